package orders_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/orders"
	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/workflow"
)

// open returns an engine with the built-in workflows on a virtual clock.
func open(t *testing.T) (orders.Workflows, *clock.Virtual) {
	vc := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	app, err := roost.Open(context.Background(), roost.Config{Dir: t.TempDir(), Clock: vc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := workflow.New(app)
	wfs := orders.Define(e, orders.Config{})
	t.Cleanup(func() {
		e.Close(context.Background())
		app.Close(context.Background())
	})
	return wfs, vc
}

func create[P, R any](t *testing.T, wf *workflow.Workflow[P, R], id string, params P) *workflow.Instance {
	t.Helper()
	inst, created, err := wf.Create(context.Background(), id, params)
	if err != nil || !created {
		t.Fatalf("create %s: %v, %v", id, created, err)
	}
	return inst
}

// until advances the clock a second at a time (at most two days) until
// the instance's status is want.
func until(t *testing.T, vc *clock.Virtual, inst *workflow.Instance, want string) *workflow.Status {
	t.Helper()
	for range 2 * 24 * 3600 {
		st, err := inst.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Status == want {
			return st
		}
		if st.Status == workflow.StatusErrored {
			t.Fatalf("errored: %+v", st.Error)
		}
		step := time.Second
		if st.Status == workflow.StatusSleeping || st.Status == workflow.StatusWaiting {
			step = time.Minute
		}
		vc.Advance(step)
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s never reached %s", inst.ID(), want)
	return nil
}

func TestOrder_ChargesSleepsWaitsAndNotifies(t *testing.T) {
	wfs, vc := open(t)
	ctx := context.Background()
	inst := create(t, wfs.Order, "o1", orders.Order{Customer: "ann", Item: "soup", Cents: 1200})
	st := until(t, vc, inst, workflow.StatusSleeping)
	if s := st.Steps[0]; s.Name != "charge" || s.Attempts != 3 || s.State != "done" {
		t.Fatalf("charge step %+v", s)
	}
	until(t, vc, inst, workflow.StatusWaiting)
	if err := inst.SendEvent(ctx, "delivered", orders.Delivery{By: "bob"}); err != nil {
		t.Fatal(err)
	}
	st = until(t, vc, inst, workflow.StatusComplete)
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

func TestOrder_WithoutDeliveryEndsWithoutNotification(t *testing.T) {
	wfs, vc := open(t)
	inst := create(t, wfs.Order, "o2", orders.Order{Customer: "bo", Item: "tea", Cents: 300})
	st := until(t, vc, inst, workflow.StatusComplete)
	r, err := wfs.Order.Output(st)
	if err != nil {
		t.Fatal(err)
	}
	if r.Delivered || r.Notification != "" {
		t.Fatalf("receipt %+v", r)
	}
}

func TestThreeStepAddsThree(t *testing.T) {
	wfs, _ := open(t)
	inst := create(t, wfs.ThreeStep, "t1", 39)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := inst.Wait(ctx)
	if err != nil || string(st.Output) != "42" {
		t.Fatalf("%+v, %v", st, err)
	}
}
