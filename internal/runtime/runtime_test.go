package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testInst is the instance of the test class.
type testInst struct {
	n   int
	act *Activation
}

// newRuntime returns a runtime on a temp store with a virtual clock and one
// class "c" whose instances are counted.
func newRuntime(t testing.TB, cfg Config) (*Runtime, *atomic.Int64) {
	t.Helper()
	st, err := store.Open(store.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store = st
	if cfg.Clock == nil {
		cfg.Clock = clock.NewVirtual(time.Unix(0, 0))
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var built atomic.Int64
	if err := r.Register(&Class{Name: "c", New: func(_ context.Context, a *Activation) (any, error) {
		built.Add(1)
		return &testInst{act: a}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(context.Background()); err != nil {
			t.Error(err)
		}
		st.Close()
	})
	return r, &built
}

func TestRuntime_EventsRunInOrderOneAtATime(t *testing.T) {
	t.Parallel()
	r, built := newRuntime(t, Config{})
	id := ids.FromName("c", "order")
	var mu sync.Mutex
	var got []int
	var running atomic.Int32
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			err := r.Do(t.Context(), "c", id, func(ctx context.Context, inst any) error {
				if running.Add(1) != 1 {
					t.Error("two events of one object ran at once")
				}
				defer running.Add(-1)
				inst.(*testInst).n++
				mu.Lock()
				got = append(got, i)
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(got) != 200 || built.Load() != 1 {
		t.Fatalf("ran %d events with %d instances, want 200 with 1", len(got), built.Load())
	}
}

func TestRuntime_OverloadedWhenMailboxIsFull(t *testing.T) {
	t.Parallel()
	r, _ := newRuntime(t, Config{MaxPending: 2})
	id := ids.FromName("c", "busy")
	release, wg := holdObject(t, r, id)
	for range 2 { // fill the mailbox behind the running event
		wg.Go(func() { r.Do(t.Context(), "c", id, func(context.Context, any) error { return nil }) })
	}
	waitQueued(t, r, "c", id, 2)
	err := r.Do(t.Context(), "c", id, func(context.Context, any) error { return nil })
	release()
	wg.Wait()
	if errcode.Of(err) != errcode.Overloaded {
		t.Fatalf("Do on a full mailbox = %v, want code overloaded", err)
	}
}

// holdObject runs an event on the object that blocks until release is
// called; wg ends when that event has finished.
func holdObject(t testing.TB, r *Runtime, id ids.ID) (release func(), wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	started := make(chan struct{})
	wg = new(sync.WaitGroup)
	wg.Go(func() {
		r.Do(context.Background(), "c", id, func(context.Context, any) error {
			close(started)
			<-done
			return nil
		})
	})
	<-started
	return func() { close(done) }, wg
}

// waitQueued waits until n events are queued for the object.
func waitQueued(t testing.TB, r *Runtime, class string, id ids.ID, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		r.mu.Lock()
		o := r.objects[objKey{class, id}]
		queued := o != nil && len(o.queue) >= n
		r.mu.Unlock()
		if queued {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d events never got queued", n)
		case <-time.After(time.Millisecond): // polls state the runtime exposes no signal for
		}
	}
}

func TestRuntime_AbandonedEventNeverRuns(t *testing.T) {
	t.Parallel()
	r, _ := newRuntime(t, Config{})
	id := ids.FromName("c", "abandon")
	release, wg := holdObject(t, r, id)
	ctx, cancel := context.WithCancel(t.Context())
	var ran atomic.Bool
	done := make(chan error)
	go func() { done <- r.Do(ctx, "c", id, func(context.Context, any) error { ran.Store(true); return nil }) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Do after cancel = %v, want context.Canceled", err)
	}
	release()
	wg.Wait()
	// A later event runs after the abandoned one was skipped.
	if err := r.Do(t.Context(), "c", id, func(context.Context, any) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Fatal("an event abandoned by its caller before it started ran anyway")
	}
}

func TestRuntime_IdleEvictionWithVirtualClock(t *testing.T) {
	t.Parallel()
	vc := clock.NewVirtual(time.Unix(0, 0))
	r, built := newRuntime(t, Config{Clock: vc, IdleTimeout: time.Minute})
	id := ids.FromName("c", "idle")
	noop := func(context.Context, any) error { return nil }
	if err := r.Do(t.Context(), "c", id, noop); err != nil {
		t.Fatal(err)
	}
	if err := vc.WaitForTimers(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	vc.Advance(time.Minute)
	if err := r.WaitActive(t.Context(), func(n int) bool { return n == 0 }); err != nil {
		t.Fatal(err)
	}
	if err := r.Do(t.Context(), "c", id, noop); err != nil {
		t.Fatal(err)
	}
	if built.Load() != 2 {
		t.Fatalf("constructor ran %d times, want 2 (once per activation)", built.Load())
	}
}

func TestRuntime_RejectsAfterClose(t *testing.T) {
	t.Parallel()
	r, _ := newRuntime(t, Config{})
	if err := r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	err := r.Do(t.Context(), "c", ids.FromName("c", "x"), func(context.Context, any) error { return nil })
	if errcode.Of(err) != errcode.ShuttingDown {
		t.Fatalf("Do after Close = %v, want code shutting_down", err)
	}
}

func TestRuntime_UnknownClass(t *testing.T) {
	t.Parallel()
	r, _ := newRuntime(t, Config{})
	err := r.Do(t.Context(), "nope", ids.New(), func(context.Context, any) error { return nil })
	if !errors.Is(err, ErrUnknownClass) {
		t.Fatalf("Do on an unknown class = %v, want ErrUnknownClass", err)
	}
}

// TestRuntime_ReactivationWaitsForTheLeavingInstance runs workers that each
// alternate between two objects, with room for one object in memory: every
// activation evicts another object, whose file may still be closing when its
// next event arrives. The new instance must wait
// for it (single activation), never fail to open a file the old one holds.
func TestRuntime_ReactivationWaitsForTheLeavingInstance(t *testing.T) {
	t.Parallel()
	r, _ := newRuntime(t, Config{MaxActive: 1})
	write := func(ctx context.Context, inst any) error {
		db, err := inst.(*testInst).act.DB()
		if err != nil {
			return err
		}
		_, err = db.Exec(ctx, "CREATE TABLE IF NOT EXISTS t (x); INSERT INTO t VALUES (1)")
		return err
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 300 {
				id := ids.FromName("c", fmt.Sprintf("%d-%d", w, i%2))
				if err := r.Do(t.Context(), "c", id, write); err != nil {
					t.Errorf("event %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestRuntime_BlockConcurrencyWhileTimesOutOnTheRuntimeClock(t *testing.T) {
	t.Parallel()
	vc := clock.NewVirtual(time.Unix(0, 0))
	r, _ := newRuntime(t, Config{Clock: vc, BlockTimeout: 30 * time.Second})
	done := make(chan error, 1)
	go func() {
		done <- r.Do(t.Context(), "c", ids.FromName("c", "bcw"), func(ctx context.Context, inst any) error {
			return inst.(*testInst).act.BlockConcurrencyWhile(ctx, func(ctx context.Context) error {
				<-ctx.Done() // an initialisation that never finishes on its own
				return ctx.Err()
			})
		})
	}()
	// The event's BlockConcurrencyWhile timer is the only one armed (idle
	// timers are armed only while the object waits for events).
	if err := vc.WaitForTimers(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	vc.Advance(30 * time.Second)
	err := <-done
	if errcode.Of(err) != errcode.InitFailed || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("event = %v (code %s), want init_failed wrapping context.DeadlineExceeded", err, errcode.Of(err))
	}
}

func TestRuntime_CallCycleFailsFast(t *testing.T) {
	t.Parallel()
	r, _ := newRuntime(t, Config{})
	a, b := ids.FromName("c", "a"), ids.FromName("c", "b")
	noop := func(context.Context, any) error { return nil }
	cases := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"self", func(ctx context.Context) error { return r.Do(ctx, "c", a, noop) }},
		{"through another object", func(ctx context.Context) error {
			return r.Do(ctx, "c", b, func(ctx context.Context, _ any) error { return r.Do(ctx, "c", a, noop) })
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var inner error
			err := r.Do(ctx, "c", a, func(ctx context.Context, _ any) error {
				inner = tc.call(ctx)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if errcode.Of(inner) != errcode.CallCycle {
				t.Fatalf("call back into the chain = %v, want code call_cycle", inner)
			}
		})
	}
	// Calls that do not come back are fine: a calls b.
	err := r.Do(t.Context(), "c", a, func(ctx context.Context, _ any) error { return r.Do(ctx, "c", b, noop) })
	if err != nil {
		t.Fatalf("a calls b: %v", err)
	}
}
