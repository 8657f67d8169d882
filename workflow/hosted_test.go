package workflow_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/roosttest"
	"github.com/roost-dev/roost/workflow"
)

// shop is an object that hosts its orders' fulfilment workflows: each
// order is a row of its table "orders" and an instance of "fulfil".
type shop struct {
	st *roost.State
	wf *workflow.Host
}

func (s *shop) WorkflowHost() *workflow.Host { return s.wf }

// Timer hands the hosted instances' fires to the host, and counts the
// shop's own.
func (s *shop) Timer(ctx context.Context, f roost.TimerFire) error {
	if ok, err := s.wf.Timer(ctx, f); ok {
		return err
	}
	return s.st.Storage().Put(ctx, "fired/"+f.Name, []byte("1"))
}

// row reads an order's row ("" if none).
func (s *shop) row(ctx context.Context, id string) (status string, err error) {
	err = s.st.Storage().QueryRow(ctx, `SELECT status FROM orders WHERE id = ?`, id).Scan(&status)
	if errors.Is(err, roost.ErrNoRows) {
		return "", nil
	}
	return status, err
}

type shopEnv struct {
	*roosttest.Env
	shops   *roost.Namespace
	fulfil  *workflow.Workflow[string, string]
	charges atomic.Int64 // runs of the charge step, failed ones too
}

// newShopEnv opens an app with the shop class and the fulfil workflow: it
// charges the order (the first attempt fails after writing its row, so its
// write rolls back), sleeps an hour, waits for the "delivered" event, and
// marks the order delivered.
func newShopEnv(t *testing.T) *shopEnv {
	v := &shopEnv{}
	v.Env = roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
		e := env.Workflows()
		v.fulfil = workflow.Define(e, "fulfil", func(ctx workflow.Context, order string) (string, error) {
			charge, err := workflow.Step(ctx, "charge", func(ctx workflow.StepContext) (string, error) {
				n := v.charges.Add(1)
				st := ctx.Host()
				if _, err := st.Exec(ctx, `UPDATE orders SET status = 'charged' WHERE id = ?`, order); err != nil {
					return "", err
				}
				if n == 1 {
					return "", errors.New("the card network timed out")
				}
				return "ch-" + order, nil
			}, workflow.Retry{Limit: 3, Delay: time.Second})
			if err != nil {
				return "", err
			}
			if err := workflow.Sleep(ctx, "cool-off", time.Hour); err != nil {
				return "", err
			}
			by, err := workflow.WaitForEvent[string](ctx, "delivery", "delivered", 0)
			if err != nil {
				return "", err
			}
			_, err = workflow.Step(ctx, "deliver", func(ctx workflow.StepContext) (bool, error) {
				_, err := ctx.Host().Exec(ctx, `UPDATE orders SET status = 'delivered' WHERE id = ?`, order)
				return true, err
			})
			return charge + " by " + by, err
		})
		v.shops = roost.Register(app, "shop", func(st *roost.State) (*shop, error) {
			return &shop{st: st, wf: workflow.NewHost(e, st)}, nil
		})
	}, roosttest.WithStart(epoch))
	return v
}

// in runs fn in an event of the shop "main".
func (v *shopEnv) in(fn func(ctx context.Context, s *shop) error) {
	v.T().Helper()
	if err := roost.Do(context.Background(), v.shops.Get(v.shops.IDFromName("main")), fn); err != nil {
		v.T().Fatal(err)
	}
}

// order places an order: its row and its workflow, in one event.
func (v *shopEnv) order(id string) {
	v.T().Helper()
	v.in(func(ctx context.Context, s *shop) error {
		st := s.st.Storage()
		if _, err := st.Exec(ctx, `CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, status TEXT NOT NULL)`); err != nil {
			return err
		}
		if _, err := st.Exec(ctx, `INSERT INTO orders (id, status) VALUES (?, 'placed')`, id); err != nil {
			return err
		}
		created, err := workflow.Start(ctx, s.wf, v.fulfil, id, id)
		if err == nil && !created {
			err = errors.New("the instance existed")
		}
		return err
	})
}

// state returns the order's row and its instance's status.
func (v *shopEnv) state(id string) (row string, st *workflow.Status) {
	v.T().Helper()
	v.in(func(ctx context.Context, s *shop) (err error) {
		if row, err = s.row(ctx, id); err != nil {
			return err
		}
		st, err = s.wf.Status(ctx, "fulfil", id)
		return err
	})
	return row, st
}

// until advances the clock in steps until the order's instance is in want.
func (v *shopEnv) until(id, want string) {
	v.T().Helper()
	v.AdvanceUntil(func() bool {
		_, st := v.state(id)
		return st.Status == want
	}, time.Second, 3*time.Hour)
}

// A hosted workflow's step writes its host's table in the step's
// transaction: the failed attempt's write rolls back with it, the
// successful one commits with its record. The host's named timers drive the
// retry and the sleep, beside the host's own timer, and the instance goes
// on after a restart.
func TestHosted_StepAndTheHostsRowCommitTogether(t *testing.T) {
	v := newShopEnv(t)
	v.order("o1")
	v.in(func(ctx context.Context, s *shop) error { // a timer of the shop's own
		return s.st.Storage().Schedule(ctx, "reminder", v.Now().Add(30*time.Minute), nil)
	})
	v.WaitUntil(func() bool { return v.charges.Load() == 1 })
	row, st := v.state("o1")
	if row != "placed" || st.Status != workflow.StatusRunning || st.Steps[0].State != "retrying" {
		t.Fatalf("after the failed attempt: row %q, status %s, steps %+v; want placed, running, retrying", row, st.Status, st.Steps)
	}
	v.until("o1", workflow.StatusSleeping)
	if row, _ := v.state("o1"); row != "charged" {
		t.Fatalf("after the charge: row %q, want charged", row)
	}
	v.Restart()
	v.until("o1", workflow.StatusWaiting)
	v.in(func(ctx context.Context, s *shop) error {
		if _, ok, err := s.st.Storage().Get(ctx, "fired/reminder"); err != nil || !ok {
			t.Errorf("the shop's own timer did not reach it: %v", err)
		}
		return s.wf.SendEvent(ctx, "fulfil", "o1", "delivered", "bob")
	})
	v.until("o1", workflow.StatusComplete)
	row, st = v.state("o1")
	if out, err := v.fulfil.Output(st); err != nil || out != "ch-o1 by bob" || row != "delivered" {
		t.Fatalf("at the end: row %q, output %q, %v", row, out, err)
	}
	if n := v.charges.Load(); n != 2 {
		t.Fatalf("the charge step ran %d times, want 2", n)
	}
	// Hosted instances are the object's, not the workflow index's.
	page, err := v.Workflows().List(context.Background(), "fulfil", workflow.ListOptions{})
	if err != nil || len(page.Instances) != 0 {
		t.Fatalf("the index lists %+v, %v; want none", page, err)
	}
}

// A handler's event that fails takes the instance it started with it;
// terminate ends a hosted instance; unknown ones are refused.
func TestHosted_StartTerminateAndErrors(t *testing.T) {
	v := newShopEnv(t)
	err := roost.Do(context.Background(), v.shops.Get(v.shops.IDFromName("main")), func(ctx context.Context, s *shop) error {
		if _, err := workflow.Start(ctx, s.wf, v.fulfil, "lost", "lost"); err != nil {
			return err
		}
		return errors.New("the handler failed after starting it")
	})
	if err == nil {
		t.Fatal("the failing handler succeeded")
	}
	v.order("o2")
	v.until("o2", workflow.StatusSleeping)
	v.in(func(ctx context.Context, s *shop) error {
		if _, err := s.wf.Status(ctx, "fulfil", "lost"); roost.ErrorCode(err) != "unknown_instance" {
			t.Errorf("the instance of the failed event: %v, want unknown_instance", err)
		}
		if _, err := s.wf.Status(ctx, "nope", "o2"); roost.ErrorCode(err) != "unknown_workflow" {
			t.Errorf("an unknown workflow: %v", err)
		}
		if created, err := workflow.Start(ctx, s.wf, v.fulfil, "o2", "o2"); err != nil || created {
			t.Errorf("a second start of o2: created %v, %v; want false", created, err)
		}
		return s.wf.Terminate(ctx, "fulfil", "o2")
	})
	_, st := v.state("o2")
	if st.Status != workflow.StatusTerminated {
		t.Fatalf("after terminate: %s", st.Status)
	}
	v.Advance(2 * time.Hour) // its sleep's timer went with it
	if _, st := v.state("o2"); st.Status != workflow.StatusTerminated {
		t.Fatalf("after the sleep's time: %s", st.Status)
	}
	v.in(func(ctx context.Context, s *shop) error {
		if err := s.wf.Terminate(ctx, "fulfil", "o2"); roost.ErrorCode(err) != "invalid_state" {
			t.Errorf("a second terminate: %v, want invalid_state", err)
		}
		return nil
	})
}
