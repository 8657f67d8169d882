package workflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/roosttest"
	"github.com/roost-dev/roost/workflow"
)

// epoch is where the virtual clock starts.
var epoch = roosttest.Epoch

// newEnv opens an app with a workflow engine (roosttest) on a temporary
// directory and a virtual clock. define runs after each open, as a program
// defines its workflows at startup.
func newEnv(t *testing.T, define func(e *workflow.Engine)) *roosttest.Env {
	return roosttest.New(t, func(_ *roost.App, env *roosttest.Env) { define(env.Workflows()) }, roosttest.WithStart(epoch))
}

// advance moves the virtual clock by d in steps, so that each wake's run
// can set the next one before the clock passes it.
func advance(v *roosttest.Env, d, step time.Duration) {
	for moved := time.Duration(0); moved < d; moved += step {
		v.Advance(min(step, d-moved))
	}
}

// advanceUntil moves the virtual clock by step until the instance's status
// is one of want (at most 1,000 steps): for waits whose wakes depend on
// when earlier runs happened to record them.
func advanceUntil(v *roosttest.Env, inst *workflow.Instance, step time.Duration, want ...string) *workflow.Status {
	v.T().Helper()
	var st *workflow.Status
	v.AdvanceUntil(func() bool {
		st = status(v, inst, st)
		return slices.Contains(want, st.Status)
	}, step, 1000*step)
	return st
}

// wait waits (bounded) until the instance's status is one of want.
func wait(v *roosttest.Env, inst *workflow.Instance, want ...string) *workflow.Status {
	v.T().Helper()
	var st *workflow.Status
	v.WaitUntil(func() bool {
		st = status(v, inst, st)
		return slices.Contains(want, st.Status)
	})
	return st
}

// status returns the instance's status, and logs it when it differs from
// last's: a test that fails waiting shows what the instance went through.
func status(v *roosttest.Env, inst *workflow.Instance, last *workflow.Status) *workflow.Status {
	t := v.T()
	t.Helper()
	st, err := inst.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if last == nil || st.Status != last.Status || len(st.Steps) != len(last.Steps) {
		b, _ := json.Marshal(st)
		t.Logf("at %s: %s", v.Now().Format(time.RFC3339Nano), b)
	}
	return st
}

func create[P, R any](t *testing.T, wf *workflow.Workflow[P, R], id string, params P) *workflow.Instance {
	t.Helper()
	inst, created, err := wf.Create(context.Background(), id, params)
	if err != nil || !created {
		t.Fatalf("create %s: created %v, %v", id, created, err)
	}
	return inst
}

func TestThreeStepsRecordTheirResults(t *testing.T) {
	var wf *workflow.Workflow[int, int]
	newEnv(t, func(e *workflow.Engine) {
		wf = workflow.Define(e, "three", func(ctx workflow.Context, n int) (int, error) {
			for _, name := range []string{"a", "b", "c"} {
				var err error
				if n, err = workflow.Step(ctx, name, func(workflow.StepContext) (int, error) { return n + 1, nil }); err != nil {
					return 0, err
				}
			}
			return n, nil
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), roosttest.WaitTimeout)
	defer cancel()
	st, err := create(t, wf, "t1", 1).Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := wf.Output(st); err != nil || out != 4 {
		t.Fatalf("output %d, %v", out, err)
	}
	if len(st.Steps) != 3 {
		t.Fatalf("steps %+v", st.Steps)
	}
	for i, s := range st.Steps {
		if s.Name != string(rune('a'+i)) || s.State != "done" || s.Attempts != 1 || string(s.Result) != fmt.Sprint(i+2) {
			t.Fatalf("step %d: %+v", i, s)
		}
	}
}

func TestRetriesBackOffUnderVirtualTime(t *testing.T) {
	for _, tt := range []struct {
		name    string
		backoff workflow.Backoff
		delays  []time.Duration // before retries 1, 2, 3
	}{
		{"exponential", workflow.Exponential, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{"linear", workflow.Linear, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}},
		{"constant", workflow.Constant, []time.Duration{time.Second, time.Second, time.Second}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			var wf *workflow.Workflow[int, int]
			v := newEnv(t, func(e *workflow.Engine) {
				wf = workflow.Define(e, "flaky", func(ctx workflow.Context, n int) (int, error) {
					return workflow.Step(ctx, "flaky", func(ctx workflow.StepContext) (int, error) {
						calls.Add(1)
						if ctx.Attempt() <= 3 {
							return 0, fmt.Errorf("attempt %d fails", ctx.Attempt())
						}
						return n * 2, nil
					}, workflow.Retry{Delay: time.Second, Backoff: tt.backoff})
				})
			})
			inst := create(t, wf, "f1", 21)
			for i, d := range tt.delays {
				st := waitAttempts(v, inst, i+1)
				s := st.Steps[0]
				if s.State != "retrying" || s.Until.Sub(*s.Ended) != d || s.Error.Message != fmt.Sprintf("attempt %d fails", i+1) {
					t.Fatalf("after attempt %d: %+v (until %s after its end, want %s)", i+1, s, s.Until.Sub(*s.Ended), d)
				}
				v.Advance(d - time.Millisecond)
				if n := calls.Load(); n != int32(i+1) {
					t.Fatalf("attempt %d ran before its delay was over (%d calls)", i+2, n)
				}
				v.Advance(time.Millisecond)
			}
			st := wait(v, inst, workflow.StatusComplete)
			if out, _ := wf.Output(st); out != 42 || calls.Load() != 4 || st.Steps[0].Attempts != 4 {
				t.Fatalf("output %d after %d calls: %+v", out, calls.Load(), st.Steps[0])
			}
		})
	}
}

// waitAttempts waits until the first step recorded n attempts.
func waitAttempts(v *roosttest.Env, inst *workflow.Instance, n int) *workflow.Status {
	v.T().Helper()
	var st *workflow.Status
	v.WaitUntil(func() bool {
		st = status(v, inst, st)
		return len(st.Steps) > 0 && st.Steps[0].Attempts == n
	})
	return st
}

func TestFailuresNonRetryableExhaustedAndTimedOut(t *testing.T) {
	var calls atomic.Int32
	var wf *workflow.Workflow[string, string]
	v := newEnv(t, func(e *workflow.Engine) {
		wf = workflow.Define(e, "fails", func(ctx workflow.Context, mode string) (string, error) {
			_, err := workflow.Step(ctx, "s", func(ctx workflow.StepContext) (int, error) {
				calls.Add(1)
				switch mode {
				case "final":
					return 0, workflow.NonRetryable(roost.NewError("card_declined", "declined"))
				case "timeout":
					<-ctx.Done()
					return 0, nil
				}
				return 0, errors.New("always")
			}, workflow.Retry{Limit: 2, Delay: time.Second, Backoff: workflow.Constant}, workflow.Timeout(time.Millisecond))
			if mode == "handled" && err != nil {
				return "handled: " + err.Error(), nil
			}
			return "", err
		})
	})
	final := create(t, wf, "final", "final")
	st := wait(v, final, workflow.StatusErrored)
	if st.Error.Code != "card_declined" || calls.Load() != 1 || st.Steps[0].Attempts != 1 {
		t.Fatalf("non-retryable: %+v after %d calls", st.Error, calls.Load())
	}

	calls.Store(0)
	handled := create(t, wf, "handled", "handled")
	st = advanceUntil(v, handled, time.Second, workflow.StatusComplete)
	if out, _ := wf.Output(st); out != "handled: always" || calls.Load() != 3 {
		t.Fatalf("exhausted retries: output %q after %d calls", out, calls.Load())
	}
	if s := st.Steps[0]; s.State != "done" || s.Attempts != 3 || s.Error.Code != "handler_error" {
		t.Fatalf("exhausted step: %+v", s)
	}

	calls.Store(0)
	timeout := create(t, wf, "timeout", "timeout")
	st = advanceUntil(v, timeout, time.Second, workflow.StatusErrored)
	if st.Error.Code != "timeout" || calls.Load() != 3 {
		t.Fatalf("timed-out step: %+v after %d calls", st.Error, calls.Load())
	}
}

// A step's writes to the instance's storage commit with its result; a
// failed attempt's writes roll back.
func TestStepWritesCommitWithItsResult(t *testing.T) {
	var wf *workflow.Workflow[int, string]
	v := newEnv(t, func(e *workflow.Engine) {
		wf = workflow.Define(e, "writes", func(ctx workflow.Context, _ int) (string, error) {
			if _, err := workflow.Step(ctx, "write", func(ctx workflow.StepContext) (int, error) {
				if ctx.Host() != nil {
					return 0, workflow.NonRetryable(errors.New("a standalone instance's step has a host"))
				}
				st := ctx.Storage()
				if err := st.Put(ctx, "attempt", fmt.Appendf(nil, "%d", ctx.Attempt())); err != nil {
					return 0, err
				}
				if err := st.Put(ctx, fmt.Sprint("log/", ctx.Attempt()), nil); err != nil {
					return 0, err
				}
				if ctx.Attempt() == 1 {
					return 0, errors.New("the first attempt fails after writing")
				}
				return ctx.Attempt(), nil
			}, workflow.Retry{Delay: time.Second}); err != nil {
				return "", err
			}
			return workflow.Step(ctx, "read", func(ctx workflow.StepContext) (string, error) {
				kv, _, err := ctx.Storage().Get(ctx, "attempt")
				if err != nil {
					return "", err
				}
				rows, err := ctx.Storage().List(ctx, &roost.ListOptions{Prefix: "log/"})
				if err != nil {
					return "", err
				}
				return fmt.Sprintf("kv=%s rows=%d", kv, len(rows)), nil
			})
		})
	})
	inst := create(t, wf, "w1", 0)
	waitAttempts(v, inst, 1)
	v.Advance(time.Second)
	st := wait(v, inst, workflow.StatusComplete)
	if out, _ := wf.Output(st); out != "kv=2 rows=1" {
		t.Fatalf("storage after the steps: %s", out)
	}
}

// A step's write to its instance's storage over the value limit fails the
// step for good, with none of its writes, and the instance goes on: the
// function sees the error (code limit_exceeded) after one attempt, and the
// run is not stopped and retried as after a failure of the server.
func TestStepWriteOverALimitFailsTheStep(t *testing.T) {
	var wf *workflow.Workflow[int, string]
	var calls atomic.Int64
	env := roosttest.New(t, func(_ *roost.App, env *roosttest.Env) {
		wf = workflow.Define(env.Workflows(), "toobig", func(ctx workflow.Context, _ int) (string, error) {
			_, err := workflow.Step(ctx, "write", func(ctx workflow.StepContext) (bool, error) {
				calls.Add(1)
				if err := ctx.Storage().Put(ctx, "small", []byte("ok")); err != nil {
					return false, err
				}
				return true, ctx.Storage().Put(ctx, "big", make([]byte, 4096))
			})
			if roost.ErrorCode(err) != "limit_exceeded" {
				return "", fmt.Errorf("the step's error: %v", err)
			}
			return workflow.Step(ctx, "read", func(ctx workflow.StepContext) (string, error) {
				_, ok, err := ctx.Storage().Get(ctx, "small")
				return fmt.Sprint("small written: ", ok), err
			})
		})
	}, roosttest.WithStart(epoch), roosttest.WithConfig(func(cfg *roost.Config) { cfg.MaxValueSize = 1024 }))
	st := wait(env, create(t, wf, "w", 0), workflow.StatusComplete)
	if out, _ := wf.Output(st); out != "small written: false" || calls.Load() != 1 {
		t.Fatalf("output %q after %d attempts; want the step failed once, with none of its writes", out, calls.Load())
	}
}

// Each instance has its own state, though instances share partitions; an
// attempt reads its own writes (Get, List, Delete) before they commit.
func TestStepStorageIsTheInstancesOwn(t *testing.T) {
	var wf *workflow.Workflow[int, string]
	v := newEnv(t, func(e *workflow.Engine) {
		wf = workflow.Define(e, "own", func(ctx workflow.Context, n int) (string, error) {
			if _, err := workflow.Step(ctx, "seed", func(ctx workflow.StepContext) (bool, error) {
				st := ctx.Storage()
				for _, k := range []string{"a", "b", "c"} {
					if err := st.Put(ctx, k, fmt.Append(nil, n)); err != nil {
						return false, err
					}
				}
				return true, nil
			}); err != nil {
				return "", err
			}
			return workflow.Step(ctx, "mix", func(ctx workflow.StepContext) (string, error) {
				st := ctx.Storage()
				if ok, err := st.Delete(ctx, "b"); err != nil || !ok {
					return "", fmt.Errorf("delete b: %v, %v", ok, err)
				}
				if ok, err := st.Delete(ctx, "nope"); err != nil || ok {
					return "", fmt.Errorf("delete nope: %v, %v", ok, err)
				}
				if err := st.Put(ctx, "a0", []byte("new")); err != nil {
					return "", err
				}
				if _, ok, _ := st.Get(ctx, "b"); ok {
					return "", errors.New("b is still there")
				}
				page, err := st.List(ctx, &roost.ListOptions{Limit: 2})
				if err != nil {
					return "", err
				}
				rev, err := st.List(ctx, &roost.ListOptions{Reverse: true})
				if err != nil {
					return "", err
				}
				a, _, err := st.Get(ctx, "a")
				var keys []string
				for _, en := range append(page, rev...) {
					keys = append(keys, en.Key)
				}
				return fmt.Sprintf("%s a=%s", strings.Join(keys, ","), a), err
			})
		})
	})
	for n := range 4 {
		inst := create(t, wf, fmt.Sprint("own-", n), n)
		st := wait(v, inst, workflow.StatusComplete)
		if out, _ := wf.Output(st); out != fmt.Sprintf("a,a0,c,a0,a a=%d", n) {
			t.Fatalf("instance %d saw %s", n, out)
		}
	}
}

func TestSleepSurvivesARestart(t *testing.T) {
	var before, after atomic.Int32
	var wf *workflow.Workflow[int, int]
	v := newEnv(t, func(e *workflow.Engine) {
		wf = workflow.Define(e, "sleepy", func(ctx workflow.Context, n int) (int, error) {
			n, err := workflow.Step(ctx, "before", func(workflow.StepContext) (int, error) { before.Add(1); return n + 1, nil })
			if err != nil {
				return 0, err
			}
			if err := workflow.Sleep(ctx, "nap", time.Hour); err != nil {
				return 0, err
			}
			return workflow.Step(ctx, "after", func(workflow.StepContext) (int, error) { after.Add(1); return n * 10, nil })
		})
	})
	inst := create(t, wf, "s1", 1)
	st := wait(v, inst, workflow.StatusSleeping)
	if s := st.Steps[1]; s.Kind != "sleep" || s.State != "sleeping" || !s.Until.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("sleep record %+v", s)
	}
	v.Advance(30 * time.Minute)
	v.Restart() // in the middle of the sleep
	inst = wf.Get("s1")
	if st := wait(v, inst, workflow.StatusSleeping); st.Status != workflow.StatusSleeping {
		t.Fatal(st)
	}
	v.Advance(30*time.Minute - time.Second)
	if after.Load() != 0 {
		t.Fatal("woke before the hour was over")
	}
	v.Advance(time.Second)
	st = wait(v, inst, workflow.StatusComplete)
	if out, _ := wf.Output(st); out != 20 || before.Load() != 1 || after.Load() != 1 {
		t.Fatalf("output %d; before ran %d times, after %d", out, before.Load(), after.Load())
	}
}

func TestWaitForEventBeforeDuringAndTimeout(t *testing.T) {
	type payload struct{ N int }
	var wf *workflow.Workflow[string, string]
	v := newEnv(t, func(e *workflow.Engine) {
		wf = workflow.Define(e, "waits", func(ctx workflow.Context, _ string) (string, error) {
			if err := workflow.Sleep(ctx, "first", time.Minute); err != nil {
				return "", err
			}
			p, err := workflow.WaitForEvent[payload](ctx, "go", "go", time.Hour)
			if errors.Is(err, workflow.ErrEventTimeout) {
				return "timed out", nil
			}
			if err != nil {
				return "", err
			}
			q, err := workflow.WaitForEvent[payload](ctx, "again", "go", time.Hour)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("got %d then %d", p.N, q.N), nil
		})
	})
	ctx := context.Background()
	// Two events sent while it sleeps, before any wait began: each wait
	// takes one, in order.
	early := create(t, wf, "early", "")
	wait(v, early, workflow.StatusSleeping)
	for _, n := range []int{1, 2} {
		if err := early.SendEvent(ctx, "go", payload{n}); err != nil {
			t.Fatal(err)
		}
	}
	// One that waits, then gets its events.
	late := create(t, wf, "late", "")
	// One that times out.
	never := create(t, wf, "never", "")
	wait(v, late, workflow.StatusSleeping)
	wait(v, never, workflow.StatusSleeping)
	advance(v, time.Minute, time.Minute)
	st := wait(v, early, workflow.StatusComplete)
	if out, _ := wf.Output(st); out != "got 1 then 2" {
		t.Fatalf("early: %s", out)
	}
	wait(v, late, workflow.StatusWaiting)
	for _, n := range []int{3, 4} {
		if err := late.SendEvent(ctx, "go", payload{n}); err != nil {
			t.Fatal(err)
		}
	}
	st = wait(v, late, workflow.StatusComplete)
	if out, _ := wf.Output(st); out != "got 3 then 4" {
		t.Fatalf("late: %s", out)
	}
	wait(v, never, workflow.StatusWaiting)
	st = advanceUntil(v, never, 10*time.Minute, workflow.StatusComplete)
	if out, _ := wf.Output(st); out != "timed out" {
		t.Fatalf("never: %s", out)
	}
	if s := st.Steps[1]; s.Kind != "event" || s.Error == nil || s.Error.Code != "timeout" || s.EventType != "go" {
		t.Fatalf("timed-out wait: %+v", s)
	}
	if err := never.SendEvent(ctx, "go", payload{5}); roost.ErrorCode(err) != "invalid_state" {
		t.Fatalf("event to a complete instance: %v", err)
	}
}

func TestCreateIsIdempotent(t *testing.T) {
	var runs atomic.Int32
	var wf *workflow.Workflow[int, int]
	v := newEnv(t, func(e *workflow.Engine) {
		wf = workflow.Define(e, "once", func(ctx workflow.Context, n int) (int, error) {
			return workflow.Step(ctx, "s", func(workflow.StepContext) (int, error) { runs.Add(1); return n, nil })
		})
	})
	ctx := context.Background()
	inst := create(t, wf, "same", 1)
	wait(v, inst, workflow.StatusComplete)
	again, created, err := wf.Create(ctx, "same", 2)
	if err != nil || created || again.ID() != "same" {
		t.Fatalf("second create: %v, %v", created, err)
	}
	st := wait(v, again, workflow.StatusComplete)
	if out, _ := wf.Output(st); out != 1 || runs.Load() != 1 {
		t.Fatalf("output %d after %d runs: the second create ran or changed it", out, runs.Load())
	}
	if inst, created, err := wf.Create(ctx, "", 3); err != nil || !created || len(inst.ID()) != 32 {
		t.Fatalf("create without an ID: %v, %v, %v", inst, created, err)
	}
}

func TestPauseResumeTerminate(t *testing.T) {
	var after atomic.Int32
	var wf *workflow.Workflow[int, int]
	v := newEnv(t, func(e *workflow.Engine) {
		wf = workflow.Define(e, "pausable", func(ctx workflow.Context, n int) (int, error) {
			if err := workflow.Sleep(ctx, "nap", time.Hour); err != nil {
				return 0, err
			}
			return workflow.Step(ctx, "after", func(workflow.StepContext) (int, error) { after.Add(1); return n, nil })
		})
	})
	ctx := context.Background()
	p := create(t, wf, "p", 7)
	wait(v, p, workflow.StatusSleeping)
	if err := p.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Pause(ctx); err != nil {
		t.Fatalf("pausing a paused instance: %v", err)
	}
	advance(v, 2*time.Hour, 30*time.Minute)
	if st := wait(v, p, workflow.StatusPaused); after.Load() != 0 {
		t.Fatalf("a paused instance ran: %+v", st)
	}
	if err := p.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Resume(ctx); err == nil {
		// it may still be running or complete: either way not paused
	} else if roost.ErrorCode(err) != "invalid_state" {
		t.Fatalf("resuming a running instance: %v", err)
	}
	st := wait(v, p, workflow.StatusComplete)
	if out, _ := wf.Output(st); out != 7 || after.Load() != 1 {
		t.Fatalf("after resume: %d, ran %d", out, after.Load())
	}

	x := create(t, wf, "x", 8)
	wait(v, x, workflow.StatusSleeping)
	if err := x.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	advance(v, 2*time.Hour, 30*time.Minute)
	st = wait(v, x, workflow.StatusTerminated)
	if after.Load() != 1 || st.Finished == nil {
		t.Fatalf("a terminated instance ran: %+v", st)
	}
	for name, op := range map[string]func(context.Context) error{"terminate": x.Terminate, "pause": x.Pause, "resume": x.Resume} {
		if err := op(ctx); roost.ErrorCode(err) != "invalid_state" {
			t.Fatalf("%s of a terminated instance: %v", name, err)
		}
	}
	if err := x.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	wait(v, x, workflow.StatusSleeping)
	st = advanceUntil(v, x, 30*time.Minute, workflow.StatusComplete)
	if out, _ := wf.Output(st); out != 8 || after.Load() != 2 || len(st.Steps) != 2 {
		t.Fatalf("after restart: %d, ran %d, %+v", out, after.Load(), st.Steps)
	}
}

// A finished instance shows no step as still sleeping, waiting or
// retrying: the one its end cut short is canceled, ended when the instance
// ended, also once the time it was waiting for has passed.
func TestTerminateCancelsTheSleepWaitOrRetryInProgress(t *testing.T) {
	for _, tt := range []struct{ mode, status, state string }{
		{"sleep", workflow.StatusSleeping, "sleeping"},
		{"wait", workflow.StatusWaiting, "waiting"},
		{"retry", workflow.StatusRunning, "retrying"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			var wf *workflow.Workflow[string, int]
			v := newEnv(t, func(e *workflow.Engine) {
				wf = workflow.Define(e, "cut", func(ctx workflow.Context, mode string) (int, error) {
					switch mode {
					case "sleep":
						return 0, workflow.Sleep(ctx, "nap", time.Hour)
					case "wait":
						return workflow.WaitForEvent[int](ctx, "go", "go", time.Hour)
					}
					return workflow.Step(ctx, "flaky", func(workflow.StepContext) (int, error) {
						return 0, errors.New("fails")
					}, workflow.Retry{Delay: time.Hour})
				})
			})
			inst := create(t, wf, "c1", tt.mode)
			var st *workflow.Status
			v.WaitUntil(func() bool {
				st = status(v, inst, st)
				return st.Status == tt.status && len(st.Steps) == 1 && st.Steps[0].State == tt.state
			})
			v.Advance(time.Minute)
			if err := inst.Terminate(context.Background()); err != nil {
				t.Fatal(err)
			}
			check := func(when string) {
				t.Helper()
				st := wait(v, inst, workflow.StatusTerminated)
				s := st.Steps[0]
				if s.State != "canceled" || s.Ended == nil || st.Finished == nil || !s.Ended.Equal(*st.Finished) {
					t.Fatalf("%s: step %+v of an instance finished at %v, want it canceled then", when, s, st.Finished)
				}
				_, out := call(t, v, "GET", "/workflows/cut/instances/c1", "")
				if got := out["steps"].([]any)[0].(map[string]any)["state"]; got != "canceled" {
					t.Fatalf("%s: the HTTP API shows the step %v, want canceled", when, got)
				}
			}
			check("at once")
			advance(v, 2*time.Hour, 30*time.Minute) // past the sleep's, wait's or retry's time
			check("2 h later")
			v.Restart() // read from storage, not from the engine's memory
			inst = wf.Get("c1")
			check("after a restart")
		})
	}
}

func TestNondeterministicReplayFails(t *testing.T) {
	var stepName atomic.Value
	stepName.Store("a")
	var wf *workflow.Workflow[int, int]
	v := newEnv(t, func(e *workflow.Engine) {
		wf = workflow.Define(e, "changes", func(ctx workflow.Context, n int) (int, error) {
			if _, err := workflow.Step(ctx, stepName.Load().(string), func(workflow.StepContext) (int, error) { return n, nil }); err != nil {
				return 0, err
			}
			if err := workflow.Sleep(ctx, "nap", time.Minute); err != nil {
				return 0, err
			}
			return n, nil
		})
	})
	inst := create(t, wf, "n1", 1)
	wait(v, inst, workflow.StatusSleeping)
	stepName.Store("b") // a new version of the code, deployed mid-flight
	v.Advance(time.Minute)
	st := wait(v, inst, workflow.StatusErrored)
	if st.Error.Code != "nondeterminism" || !strings.Contains(st.Error.Message, `step "a"`) || !strings.Contains(st.Error.Message, `step "b"`) {
		t.Fatalf("error %+v", st.Error)
	}
}

func TestListPagesByStatus(t *testing.T) {
	var wf *workflow.Workflow[bool, int]
	var e *workflow.Engine
	v := newEnv(t, func(eng *workflow.Engine) {
		e = eng
		wf = workflow.Define(eng, "listed", func(ctx workflow.Context, sleep bool) (int, error) {
			if sleep {
				return 0, workflow.Sleep(ctx, "nap", time.Hour)
			}
			return 1, nil
		})
	})
	for i := range 25 {
		inst := create(t, wf, fmt.Sprintf("i%02d", i), i%5 == 0)
		wait(v, inst, workflow.StatusComplete, workflow.StatusSleeping)
	}
	ctx := context.Background()
	var ids []string
	opts := workflow.ListOptions{Limit: 10}
	for pages := 1; ; pages++ {
		page, err := e.List(ctx, "listed", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Instances {
			ids = append(ids, s.ID)
		}
		if page.Cursor == "" {
			if pages != 3 {
				t.Fatalf("%d pages", pages)
			}
			break
		}
		opts.Cursor = page.Cursor
	}
	if len(ids) != 25 || ids[0] != "i00" || ids[24] != "i24" {
		t.Fatalf("listed %v", ids)
	}
	page, err := e.List(ctx, "listed", workflow.ListOptions{Status: workflow.StatusSleeping})
	if err != nil || len(page.Instances) != 5 || page.Instances[1].ID != "i05" {
		t.Fatalf("sleeping: %+v, %v", page, err)
	}
	if _, err := e.List(ctx, "nope", workflow.ListOptions{}); roost.ErrorCode(err) != "unknown_workflow" {
		t.Fatalf("unknown workflow: %v", err)
	}
	if _, err := e.List(ctx, "listed", workflow.ListOptions{Status: "lost"}); roost.ErrorCode(err) != "bad_request" {
		t.Fatalf("bad status: %v", err)
	}
	if _, err := e.List(ctx, "listed", workflow.ListOptions{Cursor: "%%%"}); roost.ErrorCode(err) != "bad_request" {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestBadInputGetsCodes(t *testing.T) {
	var wf *workflow.Workflow[int, string]
	v := newEnv(t, func(e *workflow.Engine) {
		wf = workflow.Define(e, "big", func(ctx workflow.Context, n int) (string, error) {
			return workflow.Step(ctx, "big", func(workflow.StepContext) (string, error) {
				return strings.Repeat("x", n), nil
			})
		})
	})
	ctx := context.Background()
	for _, id := range []string{"has space", strings.Repeat("x", 101), "slash/no"} {
		if _, _, err := wf.Create(ctx, id, 1); roost.ErrorCode(err) != "bad_request" {
			t.Fatalf("create %q: %v", id, err)
		}
	}
	if _, err := wf.Get("missing").Status(ctx); roost.ErrorCode(err) != "unknown_instance" {
		t.Fatalf("status of a missing instance: %v", err)
	}
	if err := wf.Get("missing").SendEvent(ctx, "x", nil); roost.ErrorCode(err) != "unknown_instance" {
		t.Fatalf("event to a missing instance: %v", err)
	}
	inst := create(t, wf, "ok", 1)
	wait(v, inst, workflow.StatusComplete)
	if err := inst.SendEvent(ctx, "bad type!", nil); roost.ErrorCode(err) != "bad_request" {
		t.Fatalf("bad event type: %v", err)
	}
	if err := inst.SendEvent(ctx, "big", strings.Repeat("x", workflow.MaxPayloadBytes)); roost.ErrorCode(err) != "limit_exceeded" {
		t.Fatalf("big payload: %v", err)
	}
	huge := create(t, wf, "huge", workflow.MaxResultBytes)
	st := wait(v, huge, workflow.StatusErrored)
	if st.Error.Code != "limit_exceeded" || st.Steps[0].Attempts != 1 {
		t.Fatalf("oversized result: %+v", st)
	}
}
