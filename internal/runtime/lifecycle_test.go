package runtime

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/store"
)

// A Close that runs out of time cancels the handlers' contexts, still waits
// for them to return, and says so; a second Close returns the same.
func TestRuntime_CloseTimesOutThenJoinsAndIsIdempotent(t *testing.T) {
	t.Parallel()
	st, err := store.Open(store.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := New(Config{Store: st, Clock: clock.NewVirtual(time.Unix(0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	r.Register(&Class{Name: "c", New: func(context.Context, *Activation) (any, error) { return &testInst{}, nil }})
	started := make(chan struct{})
	var handlerErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		r.Do(context.Background(), "c", ids.FromName("c", "slow"), func(ctx context.Context, _ any) error {
			close(started)
			<-ctx.Done() // returns only once Close gives up on it
			handlerErr = ctx.Err()
			return handlerErr
		})
	})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	first := r.Close(ctx)
	if !errors.Is(first, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want an error wrapping context.DeadlineExceeded", first)
	}
	if handlerErr == nil {
		t.Fatal("Close returned before the handler it canceled had returned")
	}
	if again := r.Close(context.Background()); again != first {
		t.Fatalf("second Close = %v, want the first's %v", again, first)
	}
	wg.Wait()
}

// Busy counts every event from its delivery until its caller has the
// answer, abandoned ones until they are dropped.
func TestRuntime_BusyCountsEventsUntilAnswered(t *testing.T) {
	t.Parallel()
	var busy atomic.Int64
	r, _ := newRuntime(t, Config{Busy: func(d int) { busy.Add(int64(d)) }})
	id := ids.FromName("c", "busy")
	release, wg := holdObject(t, r, id)
	if n := busy.Load(); n != 1 {
		t.Fatalf("busy with one event running = %d, want 1", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	abandoned := make(chan error)
	go func() { abandoned <- r.Do(ctx, "c", id, func(context.Context, any) error { return nil }) }()
	waitQueued(t, r, "c", id, 1)
	if n := busy.Load(); n != 2 {
		t.Fatalf("busy with one running and one queued = %d, want 2", n)
	}
	cancel()
	<-abandoned
	release()
	wg.Wait()
	// The abandoned event leaves the count when the object drops it.
	if err := r.Do(t.Context(), "c", id, func(context.Context, any) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := busy.Load(); n != 0 {
		t.Fatalf("busy once every event was answered or dropped = %d, want 0", n)
	}
}

// An event that may wait for room waits while the mailbox is full, where
// others fail with overloaded at once.
func TestRuntime_WaitForRoomWaitsInsteadOfOverloaded(t *testing.T) {
	t.Parallel()
	r, _ := newRuntime(t, Config{MaxPending: 1})
	id := ids.FromName("c", "full")
	release, wg := holdObject(t, r, id)
	queued := make(chan error, 1)
	go func() { queued <- r.Do(t.Context(), "c", id, func(context.Context, any) error { return nil }) }()
	waitQueued(t, r, "c", id, 1)
	if err := r.Do(t.Context(), "c", id, func(context.Context, any) error { return nil }); errcode.Of(err) != errcode.Overloaded {
		t.Fatalf("a plain event to a full mailbox = %v, want overloaded", err)
	}
	var ran atomic.Bool
	waited := make(chan error, 1)
	go func() {
		waited <- r.Deliver(t.Context(), &Event{Class: "c", ID: id, WaitForRoom: true,
			Fn: func(context.Context, any, *store.DB) error { ran.Store(true); return nil }})
	}()
	release()
	if err := <-waited; err != nil || !ran.Load() {
		t.Fatalf("the waiting event = %v (ran %v), want it run once there was room", err, ran.Load())
	}
	if err := <-queued; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}
