package workflow_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/workflow"
)

// env is an app with a workflow engine on a temporary directory and a
// virtual clock.
type env struct {
	t     *testing.T
	dir   string
	clock *clock.Virtual
	app   *roost.App
	e     *workflow.Engine
}

func newEnv(t *testing.T) *env {
	v := &env{t: t, dir: t.TempDir(), clock: clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	v.open()
	t.Cleanup(v.close)
	return v
}

func (v *env) open() {
	level := slog.LevelWarn
	if os.Getenv("WF_DEBUG") != "" {
		level = slog.LevelDebug
	}
	app, err := roost.Open(context.Background(), roost.Config{Dir: v.dir, Clock: v.clock,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))})
	if err != nil {
		v.t.Fatal(err)
	}
	v.app, v.e = app, workflow.New(app)
}

func (v *env) close() {
	if v.app == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.e.Close(ctx); err != nil {
		v.t.Error(err)
	}
	if err := v.app.Close(ctx); err != nil {
		v.t.Error(err)
	}
	v.app = nil
}

// wait waits (bounded) until the instance's status is one of want.
func wait(t *testing.T, inst *workflow.Instance, want ...string) *workflow.Status {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := inst.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if st.Status == w {
				return st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s is %s, want %v: %+v", inst.ID(), st.Status, want, st)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStepRetriesUnderVirtualTime(t *testing.T) {
	v := newEnv(t)
	calls := 0
	wf := workflow.Define(v.e, "flaky", func(ctx workflow.Context, n int) (int, error) {
		return workflow.Step(ctx, "flaky", func(ctx workflow.StepContext) (int, error) {
			calls++
			if ctx.Attempt() < 3 {
				return 0, errors.New("not yet")
			}
			return n * 2, nil
		}, workflow.Retry{Delay: time.Second})
	})
	inst, created, err := wf.Create(context.Background(), "f1", 21)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	st := wait(t, inst, workflow.StatusRunning)
	for i := 0; i < 100 && !st.Done(); i++ {
		v.clock.Advance(time.Second)
		time.Sleep(5 * time.Millisecond)
		st, _ = inst.Status(context.Background())
	}
	st = wait(t, inst, workflow.StatusComplete)
	out, err := wf.Output(st)
	if err != nil || out != 42 || calls != 3 {
		t.Fatalf("output %d, %v after %d calls: %+v", out, err, calls, st)
	}
}
