package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/errcode"
)

// Context is what a workflow function gets: a context.Context that ends when
// the engine stops, and the instance it runs for. Pass it to the primitives.
type Context interface {
	context.Context
	// InstanceID returns the instance's ID.
	InstanceID() string
	// Workflow returns the workflow's name.
	Workflow() string
	// Logger returns a logger that names the workflow and the instance.
	Logger() *slog.Logger

	run() *run
}

type wfContext struct {
	context.Context
	r *run
}

func (c wfContext) InstanceID() string   { return c.r.id }
func (c wfContext) Workflow() string     { return c.r.def.name }
func (c wfContext) Logger() *slog.Logger { return c.r.log }
func (c wfContext) run() *run            { return c.r }

// StepContext is what a step's function gets: a context.Context that ends
// at the attempt's timeout, and the instance's own state, whose writes
// commit together with the step's result (and are dropped if the attempt
// fails).
type StepContext interface {
	context.Context
	// Storage returns the instance's own state: a KV store of its own,
	// whose writes commit with the step's recorded result.
	Storage() KV
	// Host returns, in a step of an instance hosted in an object (see
	// [Host]), the object's storage, KV and SQL, whose writes commit with
	// the step's recorded result; nil in a standalone instance's step.
	Host() *roost.Storage
	// Step returns the step's name.
	Step() string
	// Attempt returns the attempt's number, from 1.
	Attempt() int
}

type stepContext struct {
	context.Context
	kv      KV
	host    *roost.Storage
	name    string
	attempt int
}

func (c stepContext) Storage() KV          { return c.kv }
func (c stepContext) Host() *roost.Storage { return c.host }
func (c stepContext) Step() string         { return c.name }
func (c stepContext) Attempt() int         { return c.attempt }

// Backoff is how the delay between a step's attempts grows.
type Backoff int

// The backoffs: the delay before retry n (from 1) is Delay×2ⁿ⁻¹
// (exponential), Delay×n (linear) or Delay (constant), at most MaxDelay.
const (
	Exponential Backoff = iota
	Linear
	Constant
)

// Retry limits for [Retry.Limit].
const (
	// NoRetries makes the first failure final.
	NoRetries = -1
	// Unlimited retries until the step succeeds.
	Unlimited = math.MaxInt32
)

// Retry is a step's retry policy. Zero fields take the defaults, which are
// Cloudflare Workflows': 5 retries, 10 s initial delay, exponential backoff,
// no maximum delay.
type Retry struct {
	// Limit is the number of retries after the first attempt: 0 means the
	// default (5); use NoRetries for none and Unlimited for no limit.
	Limit int
	// Delay is the delay before the first retry. Default 10s.
	Delay time.Duration
	// Backoff is how the delay grows. Default Exponential.
	Backoff Backoff
	// MaxDelay caps the delay; 0 means no cap.
	MaxDelay time.Duration
}

// Timeout bounds each attempt of a step (default 10 minutes): the step's
// context ends then, and an attempt that returns after it failed. The
// function must watch its context: a step cannot be stopped from outside.
type Timeout time.Duration

// StepOption is an option of [Step]: a [Retry] or a [Timeout].
type StepOption interface{ apply(*stepConfig) }

func (r Retry) apply(c *stepConfig)   { c.retry = r }
func (t Timeout) apply(c *stepConfig) { c.timeout = time.Duration(t) }

type stepConfig struct {
	retry   Retry
	timeout time.Duration
}

func newStepConfig(opts []StepOption) stepConfig {
	c := stepConfig{timeout: 10 * time.Minute}
	for _, o := range opts {
		o.apply(&c)
	}
	switch {
	case c.retry.Limit == 0:
		c.retry.Limit = 5
	case c.retry.Limit < 0:
		c.retry.Limit = 0
	}
	if c.retry.Delay <= 0 {
		c.retry.Delay = 10 * time.Second
	}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Minute
	}
	return c
}

// delay returns the delay after failed attempt n (from 1).
func (c stepConfig) delay(n int) time.Duration {
	d := c.retry.Delay
	switch c.retry.Backoff {
	case Linear:
		d *= time.Duration(n)
	case Constant:
	default:
		for i := 1; i < n && d < 365*24*time.Hour; i++ {
			d *= 2
		}
	}
	if c.retry.MaxDelay > 0 && d > c.retry.MaxDelay {
		d = c.retry.MaxDelay
	}
	return d
}

// NonRetryable marks err as final: the step fails without further
// attempts.
func NonRetryable(err error) error {
	if err == nil {
		return nil
	}
	return &nonRetryable{err}
}

type nonRetryable struct{ err error }

func (e *nonRetryable) Error() string { return e.err.Error() }
func (e *nonRetryable) Unwrap() error { return e.err }

// IsNonRetryable reports whether err was marked with [NonRetryable].
func IsNonRetryable(err error) bool {
	var nr *nonRetryable
	return errors.As(err, &nr)
}

// Step runs fn until it succeeds or its retries are spent, records its
// result (JSON, at most 1 MiB) and returns it. On replay it returns the
// recorded result without calling fn. A step that failed for good returns
// its last error, as an error with its code and message (the same on
// replay); the workflow may handle it or return it.
//
// fn's writes to ctx.Storage() (and, in a hosted instance, to
// ctx.Host()) and the step's record commit in one transaction. A
// standalone instance's fn runs outside any event, so a slow step holds up
// no other instance; a hosted instance's runs as an event of its host,
// taking turns with the host's other events.
func Step[T any](ctx Context, name string, fn func(ctx StepContext) (T, error), opts ...StepOption) (T, error) {
	var zero T
	raw, err := ctx.run().step(name, newStepConfig(opts), func(sc StepContext) ([]byte, error) {
		v, err := fn(sc)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, NonRetryable(fmt.Errorf("encode the result as JSON: %w", err))
		}
		return b, nil
	})
	if err != nil {
		return zero, err
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return zero, fmt.Errorf("workflow: step %q: decode its result into %T: %w", name, v, err)
	}
	return v, nil
}

// MaxSleep is the longest sleep, as Cloudflare's.
const MaxSleep = 365 * 24 * time.Hour

// Sleep pauses the workflow for d. The instance leaves memory meanwhile;
// its timer wakes it, also after a restart of the server.
func Sleep(ctx Context, name string, d time.Duration) error {
	if d > MaxSleep {
		return errcode.New(errcode.BadRequest, "workflow: sleep %q of %s: at most %s", name, d, MaxSleep)
	}
	r := ctx.run()
	return r.sleep(name, func(now time.Time) time.Time { return now.Add(d) })
}

// SleepUntil pauses the workflow until t (a time in the past does not
// pause it).
func SleepUntil(ctx Context, name string, t time.Time) error {
	r := ctx.run()
	if d := t.Sub(r.e.clock.Now()); d > MaxSleep {
		return errcode.New(errcode.BadRequest, "workflow: sleep %q until %s: at most %s from now", name, t, MaxSleep)
	}
	return r.sleep(name, func(time.Time) time.Time { return t })
}

// DefaultEventTimeout is how long WaitForEvent waits by default, as
// Cloudflare's.
const DefaultEventTimeout = 24 * time.Hour

// ErrEventTimeout is the cause of the error of a WaitForEvent that timed
// out (code timeout): test for it with errors.Is.
var ErrEventTimeout = errors.New("workflow: the event did not arrive in time")

// WaitForEvent waits for an event of eventType sent to the instance
// ([Instance.SendEvent]) and returns its payload decoded into T. An event
// that arrived before the wait began counts, and each event is taken by one
// wait only, in the order they arrived. After timeout (0: 24 hours) it
// returns an error that matches ErrEventTimeout.
func WaitForEvent[T any](ctx Context, name, eventType string, timeout time.Duration) (T, error) {
	var zero T
	if timeout <= 0 {
		timeout = DefaultEventTimeout
	}
	if err := checkEventType(eventType); err != nil {
		return zero, err
	}
	raw, err := ctx.run().wait(name, eventType, timeout)
	if err != nil {
		return zero, err
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return zero, fmt.Errorf("workflow: event %q: decode its payload into %T: %w", eventType, v, err)
	}
	return v, nil
}
