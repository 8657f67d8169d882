package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The node is tested without the public API: a class of its own and
// handlers that know it, as the root package provides them.

// box is the test class: each HTTP request increments a counter in its
// storage and may set its alarm (?alarm=<duration>); each alarm fire is
// counted in storage too.
type box struct{ act *Activation }

func (b *box) serve(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	db, err := b.act.DB()
	if err != nil {
		return err
	}
	n, err := bump(ctx, db, "requests")
	if err != nil {
		return err
	}
	if d := r.URL.Query().Get("alarm"); d != "" {
		dur, err := time.ParseDuration(d)
		if err != nil {
			return errcode.New(errcode.BadRequest, "alarm: %v", err)
		}
		if err := b.act.SetAlarm(ctx, b.act.Now().Add(dur)); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, strconv.Itoa(n))
	return err
}

// bump adds one to the counter key and returns its new value.
func bump(ctx context.Context, db *DB, key string) (int, error) {
	v, _, err := db.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	n, _ := strconv.Atoi(string(v))
	n++
	return n, db.Put(ctx, key, []byte(strconv.Itoa(n)))
}

// testHandlers reach a box.
type testHandlers struct{}

func (testHandlers) ServeHTTP(ctx context.Context, inst any, w http.ResponseWriter, r *http.Request) error {
	return inst.(*box).serve(ctx, w, r)
}

func (testHandlers) Fire(ctx context.Context, inst any, f Fire) error {
	db, err := inst.(*box).act.DB()
	if err != nil {
		return err
	}
	_, err = bump(ctx, db, "fires")
	return err
}

func (testHandlers) SocketMessage(context.Context, any, *Socket, bool, []byte) error { return nil }
func (testHandlers) SocketClose(context.Context, any, *Socket, int, string) error    { return nil }
func (testHandlers) SocketError(context.Context, any, *Socket, error) error          { return nil }

// openNode opens a node on dir with the box class, closed when the test
// ends (if the test did not close it).
func openNode(t *testing.T, dir string, clk clock.Clock) *Node {
	t.Helper()
	n, err := Open(t.Context(), Config{Dir: dir, Clock: clk, Logger: slog.New(slog.DiscardHandler),
		TimerRetry: RetryPolicy{Initial: time.Second, MaxDelay: time.Hour, MaxRetries: 2}, Handlers: testHandlers{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	err = n.Register(&Class{Name: "box", Alarms: true,
		New: func(_ context.Context, act *Activation) (any, error) { return &box{act: act}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var boxA = Ref{Class: "box", ID: ids.FromName("box", "a"), Name: "a"}

// fetch sends a GET with query to the box a and returns the body.
func fetch(t *testing.T, n *Node, query string) string {
	t.Helper()
	resp, err := n.Fetch(t.Context(), boxA, httptest.NewRequest(http.MethodGet, "/?"+query, nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// stored reads key of the box a in an event of its own.
func stored(t *testing.T, n *Node, key string) string {
	t.Helper()
	var v []byte
	err := n.Do(t.Context(), boxA, func(ctx context.Context, inst any) error {
		db, err := inst.(*box).act.DB()
		if err == nil {
			v, _, err = db.Get(ctx, key)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(v)
}

func TestNode_FetchAnswersAfterTheCommit(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir(), clock.Real())
	for want := 1; want <= 3; want++ {
		if got := fetch(t, n, ""); got != strconv.Itoa(want) {
			t.Fatalf("request %d answered %q", want, got)
		}
	}
	if got := stored(t, n, "requests"); got != "3" {
		t.Fatalf("stored requests = %q, want 3", got)
	}
}

// An alarm set by an event is in the wake index: it fires on the node's
// clock, also after the node was closed and opened again, and WaitIdle
// returns only once the fire committed.
func TestNode_AlarmFiresThroughTheWakeIndexAcrossARestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	n := openNode(t, dir, clk)
	fetch(t, n, "alarm=1h")
	if err := n.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	n = openNode(t, dir, clk)
	clk.Advance(59 * time.Minute)
	waitIdle(t, n)
	if got := stored(t, n, "fires"); got != "" {
		t.Fatalf("fires after 59 minutes = %q, want none", got)
	}
	clk.Advance(time.Minute)
	waitIdle(t, n)
	if got := stored(t, n, "fires"); got != "1" {
		t.Fatalf("fires after an hour = %q, want 1", got)
	}
}

func waitIdle(t *testing.T, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := n.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

// Busy work keeps the node from being idle until it is done.
func TestNode_WaitIdleWaitsForBusyWork(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir(), clock.Real())
	done := n.Busy()
	var idle atomic.Bool
	waited := make(chan error, 1)
	go func() {
		err := n.WaitIdle(t.Context())
		idle.Store(true)
		waited <- err
	}()
	fetch(t, n, "") // events come and go meanwhile
	if idle.Load() {
		t.Fatal("WaitIdle returned while Busy work was in progress")
	}
	done()
	done() // a second call changes nothing
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	waitIdle(t, n)
}

// A second node on a data directory that a node holds fails at once with
// the conflict code; the first keeps working.
func TestNode_SecondNodeOnTheSameDirectoryFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := openNode(t, dir, clock.Real())
	_, err := Open(t.Context(), Config{Dir: dir, Clock: clock.Real(), Logger: slog.New(slog.DiscardHandler), Handlers: testHandlers{}})
	if errcode.Of(err) != errcode.Conflict {
		t.Fatalf("second Open = %v, want code conflict", err)
	}
	if got := fetch(t, n, ""); got != "1" {
		t.Fatalf("the first node answered %q", got)
	}
}

// Close is idempotent; after it, events are refused as shutting down.
func TestNode_CloseTwice(t *testing.T) {
	t.Parallel()
	n := openNode(t, t.TempDir(), clock.Real())
	fetch(t, n, "")
	if err := n.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(t.Context()); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	select {
	case <-n.Draining():
	default:
		t.Fatal("Close did not drain")
	}
	_, err := n.Fetch(t.Context(), boxA, httptest.NewRequest(http.MethodGet, "/", nil))
	if !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("Fetch after Close = %v, want ErrShuttingDown", err)
	}
}
