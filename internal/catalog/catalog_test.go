package catalog

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/errcode"
)

func TestOpen_ReportsNewOnlyWhenItCreatedTheFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if !c.New() {
		t.Error("first Open: New() = false, want true")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	c, err = Open(Config{Path: path, Synchronous: SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.New() {
		t.Error("second Open: New() = true, want false")
	}
}

func TestOpen_RejectsBadConfig(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "catalog.db")
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "no path", cfg: Config{}, wantErr: "Path: must be set"},
		{name: "bad synchronous", cfg: Config{Path: path, Synchronous: "off"}, wantErr: "Synchronous"},
		{name: "tiny flush interval", cfg: Config{Path: path, FlushInterval: time.Microsecond}, wantErr: "FlushInterval"},
		{name: "directory missing", cfg: Config{Path: filepath.Join(path, "no", "such", "dir", "c.db")}, wantErr: "catalog: open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Open(tt.cfg)
			if err == nil {
				c.Close()
				t.Fatalf("Open = nil error, want one containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Open = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// wantStoredWake checks that k's row is on disk, new at t0 with one timer
// due at at; when says at what point of the test.
func wantStoredWake(t *testing.T, c *Catalog, k Key, at time.Time, when string) {
	t.Helper()
	got, ok := storedEntry(t, c.cfg.Path, k)
	if !ok {
		t.Fatalf("row not on disk %s", when)
	}
	sameEntry(t, got, Entry{Class: k.Class, ID: k.ID, Created: t0, NextWake: at, Timers: 1})
}

func TestSetWake_IsOnDiskWhenItReturns(t *testing.T) {
	t.Parallel()
	vc := clock.NewVirtual(t0)
	c := openTest(t, Config{Clock: vc}, nil)
	k := key("counter", 1)
	at := t0.Add(time.Hour)
	if err := c.SetWake(t.Context(), k, at); err != nil {
		t.Fatal(err)
	}
	wantStoredWake(t, c, k, at, "after SetWake returned")
}

// The wake of a new object is queued, not written; it is on disk after the
// next flush, with the rest of the object's row.
func TestSetWakeOfNew_IsQueued(t *testing.T) {
	t.Parallel()
	vc := clock.NewVirtual(t0)
	c := openTest(t, Config{Clock: vc}, nil) // flushes hourly
	k := key("counter", 1)
	at := t0.Add(time.Hour)
	if err := c.SetWakeOfNew(t.Context(), k, at); err != nil {
		t.Fatal(err)
	}
	if _, ok := storedEntry(t, c.cfg.Path, k); ok {
		t.Fatal("row on disk after SetWakeOfNew, want it queued")
	}
	if got := get(t, c, k).NextWake; !got.Equal(at) {
		t.Fatalf("NextWake = %v, want %v", got, at)
	}
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantStoredWake(t, c, k, at, "after Flush")
}

// While the removal of an earlier object of the same key is not written,
// its row is still on disk: the new object's wake must be too.
func TestSetWakeOfNew_WaitsWhileARemovalIsPending(t *testing.T) {
	t.Parallel()
	vc := clock.NewVirtual(t0)
	c := openTest(t, Config{Clock: vc}, nil)
	k := key("counter", 1)
	if err := c.SetWake(t.Context(), k, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	c.Remove(k)
	at := t0.Add(time.Hour)
	if err := c.SetWakeOfNew(t.Context(), k, at); err != nil {
		t.Fatal(err)
	}
	wantStoredWake(t, c, k, at, "after SetWakeOfNew returned")
}

func TestSetWake_NeverMovesAWakeLater(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	k := key("counter", 1)
	for _, at := range []time.Duration{2 * time.Hour, time.Hour, 3 * time.Hour} {
		if err := c.SetWake(t.Context(), k, t0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	if got := get(t, c, k).NextWake; !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("NextWake = %v, want the earliest, %v", got, t0.Add(time.Hour))
	}
}

func TestSetWake_RejectsZeroTime(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	err := c.SetWake(t.Context(), key("counter", 1), time.Time{})
	if !errors.Is(err, ErrBadOptions) {
		t.Fatalf("SetWake(zero) = %v, want ErrBadOptions", err)
	}
}

func TestSetWake_ConcurrentCallsShareTransactions(t *testing.T) {
	t.Parallel()
	const n = 50
	var queued sync.WaitGroup
	queued.Add(n)
	c, g := openGated(t, Config{}, &hooks{queued: queued.Done})
	var callers sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		callers.Go(func() { errs[i] = c.SetWake(t.Context(), key("counter", i), t0.Add(time.Duration(i)*time.Second)) })
	}
	queued.Wait() // all 50 wait; the writer holds its first flush at the gate
	g.open()
	callers.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("SetWake %d: %v", i, err)
		}
	}
	if txs := c.txs.Load(); txs > 2 {
		t.Errorf("%d SetWake calls took %d transactions, want at most 2", n, txs)
	}
	for i := range n {
		if _, ok := storedEntry(t, c.cfg.Path, key("counter", i)); !ok {
			t.Errorf("SetWake %d: row not on disk", i)
		}
	}
}

func TestSetWake_ConcurrentCallsWithoutHooks(t *testing.T) {
	t.Parallel()
	const n = 50
	c := openTest(t, Config{}, nil)
	var callers sync.WaitGroup
	var failed atomic.Int64
	for i := range n {
		callers.Go(func() {
			if err := c.SetWake(t.Context(), key("counter", i), t0); err != nil {
				t.Errorf("SetWake %d: %v", i, err)
				failed.Add(1)
			}
		})
	}
	callers.Wait()
	if txs := c.txs.Load(); txs > n {
		t.Errorf("%d SetWake calls took %d transactions, want at most %d", n, txs, n)
	}
	t.Logf("%d concurrent SetWake calls took %d transactions", n, c.txs.Load())
}

func TestSetWake_CanceledWaitStillWrites(t *testing.T) {
	t.Parallel()
	c, g := openGated(t, Config{}, nil)
	k := key("counter", 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.SetWake(ctx, k, t0) }()
	<-g.entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("SetWake = %v, want context.Canceled", err)
	}
	g.open()
	flush(t, c)
	if got, ok := storedEntry(t, c.cfg.Path, k); !ok || !got.NextWake.Equal(t0) {
		t.Fatalf("stored = %v %v, want the wake written", show(got), ok)
	}
}

func TestUpdate_IsLazyAndWrittenByFlush(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	k := key("counter", 1)
	want := Entry{Class: k.Class, ID: k.ID, Name: "room-1", Created: t0, LastActive: t0.Add(time.Minute),
		Size: 8192, NextWake: t0.Add(time.Hour), Timers: 3}
	c.Update(Update{Key: k, Name: want.Name, Created: want.Created, LastActive: want.LastActive,
		Size: want.Size, SetSize: true, Wake: &Wake{At: want.NextWake, Timers: 3}})
	if _, ok := storedEntry(t, c.cfg.Path, k); ok {
		t.Fatal("Update was written before a flush")
	}
	flush(t, c)
	got, ok := storedEntry(t, c.cfg.Path, k)
	if !ok {
		t.Fatal("row missing after Flush")
	}
	sameEntry(t, got, want)
}

func TestUpdate_WrittenByClose(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := Open(Config{Path: path, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	k := key("counter", 1)
	c.Update(Update{Key: k, Name: "a", Created: t0, Size: 4096, SetSize: true})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = openTest(t, Config{Path: path}, nil)
	sameEntry(t, get(t, c, k), Entry{Class: k.Class, ID: k.ID, Name: "a", Created: t0, Size: 4096})
}

func TestUpdate_WrittenWithinFlushInterval(t *testing.T) {
	t.Parallel()
	written := make(chan error, 1)
	c := openTest(t, Config{FlushInterval: 5 * time.Millisecond}, &hooks{written: func(err error) {
		select {
		case written <- err:
		default:
		}
	}})
	k := key("counter", 1)
	c.Update(Update{Key: k, Created: t0})
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	if _, ok := storedEntry(t, c.cfg.Path, k); !ok {
		t.Fatal("row missing after the ticker's flush")
	}
}

func TestUpdate_ZeroFieldsKeepStoredValues(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	k := key("counter", 1)
	full := Entry{Class: k.Class, ID: k.ID, Name: "room", Created: t0, LastActive: t0.Add(time.Second),
		Size: 100, NextWake: t0.Add(time.Hour), Timers: 2}
	c.Update(Update{Key: k, Name: full.Name, Created: full.Created, LastActive: full.LastActive,
		Size: full.Size, SetSize: true, Wake: &Wake{At: full.NextWake, Timers: 2}})
	flush(t, c)
	c.Update(Update{Key: k, Size: 7}) // SetSize false: size kept
	flush(t, c)
	sameEntry(t, get(t, c, k), full)
	c.Update(Update{Key: k, Wake: &Wake{}}) // none
	flush(t, c)
	full.NextWake, full.Timers = time.Time{}, 0
	sameEntry(t, get(t, c, k), full)
}

func TestUpdate_CreatesRowWithCreatedNow(t *testing.T) {
	t.Parallel()
	vc := clock.NewVirtual(t0)
	c := openTest(t, Config{Clock: vc}, nil)
	k := key("counter", 1)
	c.Update(Update{Key: k, LastActive: t0.Add(-time.Minute)})
	flush(t, c)
	got, _ := storedEntry(t, c.cfg.Path, k)
	sameEntry(t, got, Entry{Class: k.Class, ID: k.ID, Created: t0, LastActive: t0.Add(-time.Minute)})
}

func TestRemove_DeletesTheRow(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	k := key("counter", 1)
	if err := c.SetWake(t.Context(), k, t0); err != nil {
		t.Fatal(err)
	}
	c.Remove(k)
	flush(t, c)
	if _, ok, err := c.Get(t.Context(), k); err != nil || ok {
		t.Fatalf("Get after Remove = %v, %v; want missing", ok, err)
	}
}

func TestFlush_FailureKeepsChangesForRetry(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	var failing atomic.Bool
	failing.Store(true)
	c := openTest(t, Config{}, &hooks{writeErr: func() error {
		if failing.Load() {
			return boom
		}
		return nil
	}})
	a, b := key("counter", 1), key("counter", 2)
	c.Update(Update{Key: a, Name: "a", Created: t0})
	if err := c.SetWake(t.Context(), b, t0); !errors.Is(err, boom) {
		t.Fatalf("SetWake = %v, want the flush error", err)
	}
	c.Update(Update{Key: a, Size: 3, SetSize: true})
	if err := c.Flush(t.Context()); !errors.Is(err, boom) {
		t.Fatalf("Flush = %v, want the flush error", err)
	}
	if _, ok := storedEntry(t, c.cfg.Path, a); ok {
		t.Fatal("a failed flush was committed")
	}
	failing.Store(false)
	flush(t, c)
	got, _ := storedEntry(t, c.cfg.Path, a)
	sameEntry(t, got, Entry{Class: a.Class, ID: a.ID, Name: "a", Created: t0, Size: 3})
	if got, _ := storedEntry(t, c.cfg.Path, b); !got.NextWake.Equal(t0) {
		t.Fatalf("b: %s, want the wake kept for the retry", show(got))
	}
}

func TestFlush_NothingPendingReturnsAtOnce(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	flush(t, c)
	if txs := c.txs.Load(); txs != 0 {
		t.Fatalf("transactions = %d, want 0", txs)
	}
}

func TestClose_RejectsLaterCalls(t *testing.T) {
	t.Parallel()
	c, err := Open(Config{Path: filepath.Join(t.TempDir(), "catalog.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	k := key("counter", 1)
	c.Update(Update{Key: k})
	c.Remove(k)
	if err := c.SetWake(t.Context(), k, t0); !errors.Is(err, ErrClosed) {
		t.Errorf("SetWake = %v, want ErrClosed", err)
	}
	if err := c.Flush(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush = %v, want ErrClosed", err)
	}
	if _, err := c.Reconcile(t.Context(), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Reconcile = %v, want ErrClosed", err)
	}
	if code := errcode.Of(c.Flush(t.Context())); code != errcode.ShuttingDown {
		t.Errorf("code = %q, want %q", code, errcode.ShuttingDown)
	}
}

func TestWakes_ListsEveryPendingWake(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	want := map[Key]time.Time{}
	for i := range 10 {
		k := key("counter", i)
		if i%3 == 0 {
			c.Update(Update{Key: k, Name: "idle"})
			continue
		}
		want[k] = t0.Add(time.Duration(i) * time.Minute)
		c.Update(Update{Key: k, Wake: &Wake{At: want[k], Timers: 1}})
	}
	flush(t, c)
	got := map[Key]time.Time{}
	if err := c.Wakes(t.Context(), func(k Key, at time.Time) error { got[k] = at; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Wakes gave %d keys, want %d", len(got), len(want))
	}
	for k, at := range want {
		if !got[k].Equal(at) {
			t.Errorf("%s: wake %v, want %v", k, got[k], at)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := c.Wakes(t.Context(), func(Key, time.Time) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("Wakes = %v after %d calls, want fn's error after 1", err, calls)
	}
}

func TestCount_CountsPerClass(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	for i := range 7 {
		c.Update(Update{Key: key("a", i)})
	}
	for i := range 3 {
		c.Update(Update{Key: key("b", i)})
	}
	flush(t, c)
	got, err := c.Count(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["a"] != 7 || got["b"] != 3 {
		t.Fatalf("Count = %v, want a:7 b:3", got)
	}
}

func TestReconcile_MatchesTheDisk(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	gone, kept, grown, missing := key("a", 1), key("a", 2), key("b", 3), key("b", 4)
	for _, k := range []Key{gone, kept, grown} {
		c.Update(Update{Key: k, Created: t0, LastActive: t0.Add(time.Hour), Size: 100, SetSize: true})
	}
	flush(t, c)
	got, err := c.Reconcile(t.Context(), map[Key]DiskInfo{
		kept:    {Size: 100, Modified: t0}, // older than LastActive: kept
		grown:   {Size: 500, Modified: t0.Add(2 * time.Hour)},
		missing: {Size: 4096},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != missing {
		t.Fatalf("missing = %v, want [%s]", got, missing)
	}
	if _, ok, _ := c.Get(t.Context(), gone); ok {
		t.Error("row not on disk was kept")
	}
	sameEntry(t, get(t, c, kept), Entry{Class: kept.Class, ID: kept.ID, Created: t0, LastActive: t0.Add(time.Hour), Size: 100})
	sameEntry(t, get(t, c, grown), Entry{Class: grown.Class, ID: grown.ID, Created: t0, LastActive: t0.Add(2 * time.Hour), Size: 500})
}
