package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/roosttest"
	"github.com/roost-dev/roost/workflow"
)

// A workflow with a step, a sleep and a wait for an event. The example runs
// it on a test app (roosttest.Run: in a test file, the body of a TestXxx),
// whose virtual clock makes the hour's sleep pass at once.
func ExampleDefine() {
	type delivery struct{ By string }
	passed := roosttest.Run(func(t roosttest.TB) {
		var order *workflow.Workflow[int, string]
		env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
			order = workflow.Define(env.Workflows(), "order", func(ctx workflow.Context, cents int) (string, error) {
				charge, err := workflow.Step(ctx, "charge", func(ctx workflow.StepContext) (string, error) {
					return fmt.Sprintf("charged %d", cents), nil // a payment API call, retried on failure
				})
				if err != nil {
					return "", err
				}
				if err := workflow.Sleep(ctx, "cool-off", time.Hour); err != nil {
					return "", err
				}
				d, err := workflow.WaitForEvent[delivery](ctx, "delivery", "delivered", 24*time.Hour)
				if errors.Is(err, workflow.ErrEventTimeout) {
					return charge + ", never delivered", nil
				}
				return charge + ", delivered by " + d.By, err
			})
		})
		inst, _, err := order.Create(t.Context(), "o1", 1200)
		if err != nil {
			t.Fatal(err)
		}
		env.Advance(time.Hour) // the sleep ends; the instance now waits for its event
		if err := inst.SendEvent(t.Context(), "delivered", delivery{By: "bob"}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), roosttest.WaitTimeout)
		defer cancel()
		st, err := inst.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out, err := order.Output(st)
		fmt.Println(st.Status, out, err)
	})
	fmt.Println("passed:", passed)
	// Output:
	// complete charged 1200, delivered by bob <nil>
	// passed: true
}
