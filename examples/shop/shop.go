// Package shop is the demo of workflows hosted in an object: a shop object
// keeps its orders in its own SQL table and runs each order's fulfilment as
// a workflow whose journal lives in the same database. The charge step
// marks the order charged in the step's own transaction, so the row and
// the step's record commit together or not at all. `roost serve`
// registers the class "shop" and the workflow "fulfil":
//
//	POST /shop/{name}/orders                  {"id":"o1","item":"soup","cents":900} → 201 the order
//	GET  /shop/{name}/orders                  → {"orders":[...]}
//	GET  /shop/{name}/orders/{id}             → the order, with its workflow's status
//	POST /shop/{name}/orders/{id}/delivered   {"by":"bob"} → 202
package shop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/workflow"
)

// Order is an order as the shop shows it.
type Order struct {
	ID     string `json:"id"`
	Item   string `json:"item"`
	Cents  int64  `json:"cents"`
	Status string `json:"status"` // placed, charged, delivered
	Charge string `json:"charge,omitempty"`
	// Workflow is the status of the order's fulfilment.
	Workflow *workflow.Status `json:"workflow,omitempty"`
}

// Config tunes the fulfilment.
type Config struct {
	// Sleep is the wait between the charge and the delivery window.
	// Default 1 hour.
	Sleep time.Duration
	// RetryDelay is the charge step's first retry delay. Default 1 s.
	RetryDelay time.Duration
}

// Register registers the class "shop" and defines the workflow "fulfil"
// that its objects host.
func Register(app *roost.App, e *workflow.Engine, cfg Config) *roost.Namespace {
	if cfg.Sleep <= 0 {
		cfg.Sleep = time.Hour
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Second
	}
	fulfil := workflow.Define(e, "fulfil", func(ctx workflow.Context, id string) (string, error) {
		return run(ctx, cfg, id)
	})
	return roost.Register(app, "shop", func(st *roost.State) (*Shop, error) {
		return &Shop{st: st, wf: workflow.NewHost(e, st), fulfil: fulfil}, nil
	})
}

// Shop is one shop object.
type Shop struct {
	st     *roost.State
	wf     *workflow.Host
	fulfil *workflow.Workflow[string, string]
}

// WorkflowHost makes the shop the host of its orders' workflows.
func (s *Shop) WorkflowHost() *workflow.Host { return s.wf }

// Timer hands the fires of the hosted workflows' timers to their host.
func (s *Shop) Timer(ctx context.Context, f roost.TimerFire) error {
	if ok, err := s.wf.Timer(ctx, f); ok {
		return err
	}
	return fmt.Errorf("shop: no timer %q", f.Name)
}

// schema is the shop's table, created with its first order.
const schema = `CREATE TABLE IF NOT EXISTS orders (
	id     TEXT PRIMARY KEY,
	item   TEXT NOT NULL,
	cents  INTEGER NOT NULL,
	status TEXT NOT NULL,
	charge TEXT NOT NULL DEFAULT ''
)`

// run is the fulfilment of order id: charge it (the payment service fails
// once, then takes the charge; the row says charged in the step's
// transaction), sleep, wait for the delivery, mark it delivered.
func run(ctx workflow.Context, cfg Config, id string) (string, error) {
	charge, err := workflow.Step(ctx, "charge", func(ctx workflow.StepContext) (string, error) {
		if ctx.Attempt() == 1 {
			return "", errors.New("payment service unavailable")
		}
		charge := "ch_" + id
		_, err := ctx.Host().Exec(ctx, `UPDATE orders SET status = 'charged', charge = ? WHERE id = ?`, charge, id)
		return charge, err
	}, workflow.Retry{Limit: 5, Delay: cfg.RetryDelay, Backoff: workflow.Exponential})
	if err != nil {
		return "", err
	}
	if err := workflow.Sleep(ctx, "prepare", cfg.Sleep); err != nil {
		return "", err
	}
	by, err := workflow.WaitForEvent[string](ctx, "delivery", "delivered", 0)
	if err != nil {
		return "", err
	}
	_, err = workflow.Step(ctx, "deliver", func(ctx workflow.StepContext) (bool, error) {
		_, err := ctx.Host().Exec(ctx, `UPDATE orders SET status = 'delivered' WHERE id = ?`, id)
		return true, err
	})
	return charge + " delivered by " + by, err
}

// Fetch serves the shop's routes.
func (s *Shop) Fetch(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "orders" && r.Method == http.MethodPost:
		var o Order
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&o); err != nil || o.ID == "" || o.Item == "" || o.Cents <= 0 {
			roost.WriteError(w, roost.NewError("bad_request", `want {"id":"…","item":"…","cents":N>0}`))
			return nil
		}
		return s.place(ctx, w, o)
	case len(parts) == 1 && parts[0] == "orders" && r.Method == http.MethodGet:
		orders, err := s.orders(ctx, "")
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string][]Order{"orders": orders})
	case len(parts) == 2 && parts[0] == "orders" && r.Method == http.MethodGet:
		return s.show(ctx, w, parts[1])
	case len(parts) == 3 && parts[0] == "orders" && parts[2] == "delivered" && r.Method == http.MethodPost:
		var d struct {
			By string `json:"by"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&d); err != nil || d.By == "" {
			roost.WriteError(w, roost.NewError("bad_request", `want {"by":"…"}`))
			return nil
		}
		if err := s.wf.SendEvent(ctx, "fulfil", parts[1], "delivered", d.By); err != nil {
			return err
		}
		return writeJSON(w, http.StatusAccepted, map[string]string{"id": parts[1], "event": "delivered"})
	}
	roost.WriteError(w, roost.NewError("not_found", "no route "+r.Method+" "+r.URL.Path+" on shop"))
	return nil
}

// place stores the order and starts its fulfilment, in one event.
func (s *Shop) place(ctx context.Context, w http.ResponseWriter, o Order) error {
	st := s.st.Storage()
	if _, err := st.Exec(ctx, schema); err != nil {
		return err
	}
	res, err := st.Exec(ctx, `INSERT INTO orders (id, item, cents, status) VALUES (?, ?, ?, 'placed') ON CONFLICT (id) DO NOTHING`,
		o.ID, o.Item, o.Cents)
	if err != nil {
		return err
	}
	status := http.StatusOK // it existed: as it is
	if res.RowsAffected == 1 {
		if _, err := workflow.Start(ctx, s.wf, s.fulfil, o.ID, o.ID); err != nil {
			return err
		}
		status = http.StatusCreated
	}
	orders, err := s.orders(ctx, o.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, status, orders[0])
}

// show answers an order with its workflow's status.
func (s *Shop) show(ctx context.Context, w http.ResponseWriter, id string) error {
	orders, err := s.orders(ctx, id)
	if err != nil {
		return err
	}
	if len(orders) == 0 {
		roost.WriteError(w, roost.NewError("not_found", "no order "+id))
		return nil
	}
	o := orders[0]
	if o.Workflow, err = s.wf.Status(ctx, "fulfil", id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, o)
}

// orders reads the orders, or the one whose ID is id; none before the
// shop's first order (reads create no table).
func (s *Shop) orders(ctx context.Context, id string) ([]Order, error) {
	st := s.st.Storage()
	if ok, err := st.HasTable(ctx, "orders"); err != nil || !ok {
		return []Order{}, err
	}
	rows, err := st.Query(ctx, `SELECT id, item, cents, status, charge FROM orders WHERE ?1 = '' OR id = ?1 ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Order{}
	for rows.Next() {
		var o Order
		if err := rows.Scan(&o.ID, &o.Item, &o.Cents, &o.Status, &o.Charge); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}
