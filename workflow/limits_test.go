package workflow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/roost-dev/roost/workflow"
)

// A function that asks for more than MaxSteps steps fails with
// limit_exceeded instead of growing its journal without bound.
func TestMoreThanMaxStepsFails(t *testing.T) {
	var wf *workflow.Workflow[int, int]
	newEnv(t, func(e *workflow.Engine) {
		wf = workflow.Define(e, "long", func(ctx workflow.Context, _ int) (int, error) {
			for i := range workflow.MaxSteps + 1 {
				if _, err := workflow.Step(ctx, fmt.Sprint(i), func(workflow.StepContext) (int, error) { return i, nil }); err != nil {
					return 0, err
				}
			}
			return 0, nil
		})
	})
	inst := create(t, wf, "l", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := inst.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != workflow.StatusErrored || st.Error.Code != "limit_exceeded" || len(st.Steps) != workflow.MaxSteps {
		t.Fatalf("status %s, error %+v, %d steps", st.Status, st.Error, len(st.Steps))
	}
}
