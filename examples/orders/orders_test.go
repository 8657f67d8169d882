package orders_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/orders"
	"github.com/roost-dev/roost/roosttest"
	"github.com/roost-dev/roost/workflow"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// open opens an app with the built-in workflows defined, as main defines
// them; *wfs holds the workflows of the app open now (after a restart, the
// new app's).
func open(t *testing.T) (env *roosttest.Env, wfs *orders.Workflows) {
	t.Helper()
	wfs = new(orders.Workflows)
	env = roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
		*wfs = orders.Define(env.Workflows(), orders.Config{})
	})
	return env, wfs
}

func create[P, R any](t *testing.T, wf *workflow.Workflow[P, R], id string, params P) *workflow.Instance {
	t.Helper()
	inst, created, err := wf.Create(t.Context(), id, params)
	if err != nil || !created {
		t.Fatalf("create %s: %v, %v", id, created, err)
	}
	return inst
}

// until advances the clock by step at a time (two days at most) until the
// instance's status is want, and returns that status. An instance that
// errors fails the test.
func until(t *testing.T, env *roosttest.Env, inst *workflow.Instance, want string, step time.Duration) *workflow.Status {
	t.Helper()
	var st *workflow.Status
	env.AdvanceUntil(func() bool {
		var err error
		if st, err = inst.Status(t.Context()); err != nil {
			t.Fatal(err)
		}
		if st.Status == workflow.StatusErrored {
			t.Fatalf("errored: %+v", st.Error)
		}
		return st.Status == want
	}, step, 2*24*time.Hour)
	return st
}

func TestOrder_ChargesSleepsWaitsAndNotifies(t *testing.T) {
	t.Parallel()
	env, wfs := open(t)
	inst := create(t, wfs.Order, "o1", orders.Order{Customer: "ann", Item: "soup", Cents: 1200})
	st := until(t, env, inst, workflow.StatusSleeping, time.Second) // the charge's retries: 1 s, then 2 s
	if s := st.Steps[0]; s.Name != "charge" || s.Attempts != 3 || s.State != "done" {
		t.Fatalf("charge step %+v", s)
	}
	until(t, env, inst, workflow.StatusWaiting, time.Minute) // the sleep: an hour
	if err := inst.SendEvent(t.Context(), "delivered", orders.Delivery{By: "bob"}); err != nil {
		t.Fatal(err)
	}
	st = until(t, env, inst, workflow.StatusComplete, time.Minute)
	r, err := wfs.Order.Output(st)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Delivered || r.Charge == "" || !strings.Contains(r.Notification, "ann, rate your meal") || !strings.Contains(r.Notification, "bob") {
		t.Fatalf("receipt %+v", r)
	}
	if last := st.Steps[len(st.Steps)-1]; last.Name != "notify" {
		t.Fatalf("last step %+v", last)
	}
}

func TestOrder_CompletesAcrossARestart(t *testing.T) {
	t.Parallel()
	env, wfs := open(t)
	inst := create(t, wfs.Order, "o3", orders.Order{Customer: "cy", Item: "pie", Cents: 500})
	until(t, env, inst, workflow.StatusSleeping, time.Second)
	env.Restart()              // the workflow's goroutine is gone; its journal stays
	inst = wfs.Order.Get("o3") // the new app's instance
	until(t, env, inst, workflow.StatusWaiting, time.Minute)
	if err := inst.SendEvent(t.Context(), "delivered", orders.Delivery{By: "dee"}); err != nil {
		t.Fatal(err)
	}
	st := until(t, env, inst, workflow.StatusComplete, time.Minute)
	if s := st.Steps[0]; s.Name != "charge" || s.Attempts != 3 {
		t.Fatalf("charge step after the restart %+v", s)
	}
	if r, err := wfs.Order.Output(st); err != nil || !r.Delivered || !strings.Contains(r.Notification, "delivered by dee") {
		t.Fatalf("receipt %+v, %v", r, err)
	}
}

func TestOrder_WithoutDeliveryEndsWithoutNotification(t *testing.T) {
	t.Parallel()
	env, wfs := open(t)
	inst := create(t, wfs.Order, "o2", orders.Order{Customer: "bo", Item: "tea", Cents: 300})
	// The charge, the sleep, then the day the delivery does not come.
	st := until(t, env, inst, workflow.StatusComplete, 10*time.Minute)
	r, err := wfs.Order.Output(st)
	if err != nil {
		t.Fatal(err)
	}
	if r.Delivered || r.Notification != "" {
		t.Fatalf("receipt %+v", r)
	}
}

func TestThreeStepAddsThree(t *testing.T) {
	t.Parallel()
	_, wfs := open(t)
	inst := create(t, wfs.ThreeStep, "t1", 39)
	ctx, cancel := context.WithTimeout(t.Context(), roosttest.WaitTimeout)
	defer cancel()
	st, err := inst.Wait(ctx)
	if err != nil || string(st.Output) != "42" {
		t.Fatalf("%+v, %v", st, err)
	}
}
