// Package orders holds the workflows roost serve has built in: "order", the
// classic durable-execution example, and "threestep", the workflow of the
// side-by-side benchmark with Restate.
package orders

import (
	"errors"
	"fmt"
	"time"

	"github.com/roost-dev/roost/workflow"
)

// Order is the params of the order workflow.
type Order struct {
	Customer string `json:"customer"`
	Item     string `json:"item"`
	// Cents is the amount to charge.
	Cents int64 `json:"cents"`
}

// Receipt is the output of the order workflow.
type Receipt struct {
	Charge       string `json:"charge"`
	Delivered    bool   `json:"delivered"`
	Notification string `json:"notification,omitempty"`
}

// Delivery is the payload of the "delivered" event.
type Delivery struct {
	By string `json:"by"`
}

// Config tunes the order workflow.
type Config struct {
	// Sleep is the wait between the charge and the delivery window.
	// Default 1 hour.
	Sleep time.Duration
	// DeliveryTimeout bounds the wait for the "delivered" event. Default
	// 24 hours.
	DeliveryTimeout time.Duration
	// RetryDelay is the charge step's first retry delay. Default 1 s.
	RetryDelay time.Duration
}

// Define defines "order" and "threestep" on e.
//
// order charges the customer (a step that fails twice, then succeeds, as a
// flaky payment service would), sleeps, waits for a "delivered" event and
// then sends a "rate your meal" notification as its last step. Without the
// event in time it ends with a receipt that says so.
//
// threestep takes a number and adds 1 in each of three steps.
func Define(e *workflow.Engine, cfg Config) Workflows {
	if cfg.Sleep <= 0 {
		cfg.Sleep = time.Hour
	}
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = 24 * time.Hour
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Second
	}
	return Workflows{
		Order: workflow.Define(e, "order", func(ctx workflow.Context, o Order) (Receipt, error) {
			return order(ctx, cfg, o)
		}),
		ThreeStep: workflow.Define(e, "threestep", ThreeStep),
	}
}

// Workflows are the defined workflows.
type Workflows struct {
	Order     *workflow.Workflow[Order, Receipt]
	ThreeStep *workflow.Workflow[int, int]
}

func order(ctx workflow.Context, cfg Config, o Order) (Receipt, error) {
	if o.Cents <= 0 || o.Customer == "" {
		return Receipt{}, errors.New("an order needs a customer and a positive amount")
	}
	charge, err := workflow.Step(ctx, "charge", func(ctx workflow.StepContext) (string, error) {
		// The payment service fails twice, then takes the charge. The
		// charge's ID is stored with the step's result, in one commit.
		if ctx.Attempt() <= 2 {
			return "", fmt.Errorf("payment service unavailable (attempt %d)", ctx.Attempt())
		}
		id := fmt.Sprintf("ch_%s_%d", ctx.Step(), o.Cents)
		if err := ctx.Storage().Put(ctx, "charge", []byte(id)); err != nil {
			return "", err
		}
		return id, nil
	}, workflow.Retry{Limit: 5, Delay: cfg.RetryDelay, Backoff: workflow.Exponential})
	if err != nil {
		return Receipt{}, err
	}
	if err := workflow.Sleep(ctx, "prepare", cfg.Sleep); err != nil {
		return Receipt{}, err
	}
	r := Receipt{Charge: charge}
	d, err := workflow.WaitForEvent[Delivery](ctx, "delivery", "delivered", cfg.DeliveryTimeout)
	switch {
	case errors.Is(err, workflow.ErrEventTimeout):
		return r, nil // not delivered in time: no notification
	case err != nil:
		return r, err
	}
	r.Delivered = true
	r.Notification, err = workflow.Step(ctx, "notify", func(ctx workflow.StepContext) (string, error) {
		return fmt.Sprintf("%s, rate your meal (%s, delivered by %s)", o.Customer, o.Item, d.By), nil
	})
	return r, err
}

// ThreeStep adds 1 to n in each of three steps.
func ThreeStep(ctx workflow.Context, n int) (int, error) {
	for _, name := range []string{"one", "two", "three"} {
		var err error
		n, err = workflow.Step(ctx, name, func(workflow.StepContext) (int, error) { return n + 1, nil })
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}
