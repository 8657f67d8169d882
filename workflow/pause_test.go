package workflow_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost/workflow"
)

// An instance paused in the middle of a sleep, or of a step's retry delay,
// and resumed before its end sleeps (or waits for the retry) again until
// then: its alarm, which the pause deleted, is set again.
func TestResumeBeforeTheSleepOrRetryEnds(t *testing.T) {
	var after, attempts atomic.Int32
	var wf *workflow.Workflow[int, int]
	v := newEnv(t, func(e *workflow.Engine) {
		wf = workflow.Define(e, "paused-nap", func(ctx workflow.Context, retry int) (int, error) {
			if retry == 0 {
				if err := workflow.Sleep(ctx, "nap", time.Hour); err != nil {
					return 0, err
				}
			} else if _, err := workflow.Step(ctx, "flaky", func(workflow.StepContext) (int, error) {
				if attempts.Add(1) == 1 {
					return 0, errors.New("the first attempt fails")
				}
				return 0, nil
			}, workflow.Retry{Limit: 1, Delay: time.Hour}); err != nil {
				return 0, err
			}
			return workflow.Step(ctx, "after", func(workflow.StepContext) (int, error) { after.Add(1); return retry, nil })
		})
	})
	ctx := context.Background()
	for retry, name := range []string{"nap", "retry"} {
		start := v.Now()
		inst := create(t, wf, name, retry)
		waiting := func() bool { // sleeping, or waiting for its retry
			st := status(v, inst, nil)
			return st.Status == workflow.StatusSleeping || len(st.Steps) == 1 && st.Steps[0].State == "retrying"
		}
		v.WaitUntil(waiting)
		for _, op := range []func(context.Context) error{inst.Pause, inst.Resume} {
			if err := op(ctx); err != nil {
				t.Fatal(err)
			}
		}
		v.WaitUntil(waiting)
		st := advanceUntil(v, inst, 10*time.Minute, workflow.StatusComplete)
		if after.Load() != int32(retry+1) || v.Now().Before(start.Add(time.Hour)) {
			t.Fatalf("%s: after ran %d times, complete at %s: %+v", name, after.Load(), v.Now(), st)
		}
	}
}
