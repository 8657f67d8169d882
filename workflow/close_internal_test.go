package workflow

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/clock"
)

// When ctx ends while a step blocks, Close cancels the runs, and every
// goroutine of the engine has ended when it returns.
func TestClose_GivesUpOnABlockedStepAndJoinsEveryGoroutine(t *testing.T) {
	app := openApp(t, roost.Config{})
	before := goleak.IgnoreCurrent() // the app's loops, and what earlier tests left
	// The objects' mailboxes belong to the app, which stays open; an engine
	// goroutine still in an event shows as the run that waits for it.
	mailboxes := goleak.IgnoreAnyFunction("github.com/roost-dev/roost/internal/runtime.(*object).run")
	e := New(app)
	t.Cleanup(func() { e.Close(context.Background()) })
	started := make(chan struct{})
	wf := Define(e, "blocked", func(ctx Context, _ int) (int, error) {
		return Step(ctx, "block", func(ctx StepContext) (int, error) {
			close(started)
			<-ctx.Done()
			return 0, ctx.Err()
		})
	})
	if _, _, err := wf.Create(context.Background(), "a", 0); err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := e.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close: %v, want an error wrapping context.DeadlineExceeded", err)
	}
	goleak.VerifyNone(t, before, mailboxes)
	if again := e.Close(context.Background()); again != err {
		t.Fatalf("second close: %v, want the first's result %v", again, err)
	}
}

func TestClose_SecondCallReturnsTheFirstResult(t *testing.T) {
	e := openEngine(t, roost.Config{})
	wf := Define(e, "one", func(ctx Context, n int) (int, error) {
		return Step(ctx, "s", func(StepContext) (int, error) { return n, nil })
	})
	inst, _, err := wf.Create(context.Background(), "a", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inst.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatalf("second close: %v, want the first's nil", err)
	}
}

// Close is graceful first: a step that runs when it is called finishes its
// attempt with its ctx intact, and its result commits.
func TestClose_LetsARunningStepFinishItsAttempt(t *testing.T) {
	e := openEngine(t, roost.Config{})
	started, release := make(chan struct{}), make(chan struct{})
	var canceled atomic.Bool
	wf := Define(e, "slow", func(ctx Context, _ int) (int, error) {
		return Step(ctx, "wait", func(ctx StepContext) (int, error) {
			close(started)
			<-release
			canceled.Store(ctx.Err() != nil)
			return 7, nil
		})
	})
	inst, _, err := wf.Create(context.Background(), "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	closed := make(chan error, 1)
	go func() { closed <- e.Close(context.Background()) }()
	waitUntil(t, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.closing
	})
	close(release)
	if err := <-closed; err != nil {
		t.Fatalf("close: %v", err)
	}
	if canceled.Load() {
		t.Fatal("the step's ctx was canceled while Close waited for it")
	}
	st, err := inst.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusComplete || len(st.Steps) != 1 || string(st.Steps[0].Result) != "7" {
		t.Fatalf("status after close: %+v, want complete with the step's result", st)
	}
}

// Close stops the timers of runs due to run again after a failure of the
// server (see retryLocked): nothing of the engine fires after it.
func TestClose_StopsRetryTimers(t *testing.T) {
	vc := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e := openEngine(t, roost.Config{Clock: vc})
	wf := Define(e, "flaky", func(ctx Context, n int) (int, error) { return n, nil })
	e.mu.Lock()
	e.retryLocked(wf.def, wf.def.standalone("a"))
	timer := e.retries[runKey{"flaky", "a"}]
	e.mu.Unlock()
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if timer.Stop() {
		t.Fatal("the retry timer was still armed after Close")
	}
}

// waitUntil polls cond, for a state no event signals, and fails the test
// after 30s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
	}
}
