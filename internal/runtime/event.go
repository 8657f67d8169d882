package runtime

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/store"
)

// Event kinds: metric labels and span attributes.
const (
	KindCall = "call"
	KindHTTP = "http"
	KindRPC  = "rpc"
	// KindTimer is a fire of the alarm, a named timer or a cron schedule.
	KindTimer = "timer"
	KindAdmin = "admin"
	// KindWebSocket is a message, close or error of an accepted socket.
	KindWebSocket = "websocket"
)

// TurnFunc is an event's work: it runs in the object's turn with the live
// instance (nil for storage events) and the object's database.
type TurnFunc func(ctx context.Context, inst any, db *store.DB) error

// Event is one delivery to an object.
type Event struct {
	Class string
	ID    ids.ID
	// Name is the name the caller addressed the object by, "" for unique
	// IDs; hooks see it (the catalog records it).
	Name string
	// Kind labels the event in metrics and traces; default KindCall.
	Kind string
	Fn   TurnFunc
	// Storage events see the database without an instance: the constructor
	// does not run (admin operations).
	Storage bool
	// Solo events run alone, with no batch transaction open: the events
	// before them commit first, and their own writes commit as they go.
	Solo bool
	// Reset discards the instance after the event: its in-memory state no
	// longer matches storage (import, removal).
	Reset bool
	// WaitForRoom makes a caller that finds the object's mailbox full wait
	// for room (bounded by its context) instead of failing with
	// ErrOverloaded: WebSocket messages push back on their socket.
	WaitForRoom bool
	// Probe, if set, runs first, in the object's turn, with the database but
	// before the instance is constructed: false ends the event there, with
	// no error, so an object with nothing to do is not constructed (a timer
	// wake that finds nothing due). It must not write.
	Probe func(ctx context.Context, db *store.DB) (bool, error)
}

// ObjectRef names an active object for hooks.
type ObjectRef struct {
	Class string
	ID    ids.ID
	Name  string
}

// Hooks hear of what happens to objects. Their methods run in the object's
// turn (except EventDone), so they must not wait for events of the same
// object.
type Hooks interface {
	// Activated: a constructor ran.
	Activated(o ObjectRef)
	// Left: the instance left memory or was reset; reason is idle, lru,
	// shutdown or reset.
	Left(o ObjectRef, reason string)
	// AfterBatch runs after every batch of a serialized object (and after
	// every event of a concurrent one): wrote says whether it had writes to
	// commit, d is the commit's duration, err its error.
	AfterBatch(o ObjectRef, db *store.DB, wrote bool, d time.Duration, err error)
	// EventDone: the caller of an event got its answer.
	EventDone(class, kind string, err error)
}

// event is one delivery in a mailbox.
type event struct {
	*Event
	ctx  context.Context
	done chan error // buffered: the reply never blocks
	// state: 0 queued, 1 running, 2 abandoned by its caller before it ran.
	state atomic.Int32
	busy  func(delta int) // the runtime's Config.Busy
}

// reply answers the event's caller; the event leaves the mailbox.
func (e *event) reply(err error) {
	e.done <- err
	e.busy(-1)
}

// start reports whether the event may run; an abandoned one may not, and
// leaves the mailbox unanswered.
func (e *event) start() bool {
	if e.state.CompareAndSwap(0, 1) {
		return true
	}
	e.busy(-1)
	return false
}

func (e *event) abandon() { e.state.CompareAndSwap(0, 2) }

// Do delivers fn as an event of kind KindCall: see [Runtime.Deliver].
func (r *Runtime) Do(ctx context.Context, class string, id ids.ID, fn EventFunc) error {
	return r.Deliver(ctx, &Event{Class: class, ID: id, Fn: func(ctx context.Context, inst any, _ *store.DB) error {
		return fn(ctx, inst)
	}})
}

// Deliver delivers an event to the object and waits until it ran and its
// writes are durable. It returns the event's error, a commit error, or the
// caller's context error (an event still queued then never runs).
//
// Calls between objects pass the handler's ctx, which carries the call
// chain: a call that comes back to an object of a serialized class that is
// already handling an event of the same chain (A calls A, or A calls B calls
// A) fails at once with code call_cycle, instead of waiting for itself
// forever.
func (r *Runtime) Deliver(ctx context.Context, e *Event) (err error) {
	if e.Kind == "" {
		e.Kind = KindCall
	}
	defer func() { r.hooks.EventDone(e.Class, e.Kind, err) }()
	c, ok := r.Class(e.Class)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownClass, e.Class)
	}
	if !c.Concurrent && inChain(ctx, objKey{e.Class, e.ID}) {
		return &errcode.Error{Code: errcode.CallCycle, Message: fmt.Sprintf(
			"call cycle: %s/%s is already handling an event of this call chain, and its events take turns: the call would wait for itself (Roost fails fast instead of re-entering)",
			e.Class, e.ID.String()[:12])}
	}
	ctx, span := r.tracer.Start(ctx, "roost.event "+e.Kind, trace.WithAttributes(
		attribute.String("roost.class", e.Class), attribute.String("roost.id", e.ID.String()),
		attribute.String("roost.kind", e.Kind)))
	defer func() { endSpan(span, err) }()
	ev := &event{Event: e, ctx: ctx, done: make(chan error, 1), busy: r.cfg.Busy}
	o, err := r.enqueue(c, ev)
	if err != nil {
		return err
	}
	o.signal()
	select {
	case err := <-ev.done:
		return err
	case <-ctx.Done():
		ev.abandon()
		// An event that already started finishes; report what the caller
		// asked for.
		return ctx.Err()
	}
}

// endSpan records err on span and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetAttributes(attribute.String("roost.error_code", string(errcode.Of(err))))
	}
	span.End()
}

// noHooks is the default: it hears nothing.
type noHooks struct{}

func (noHooks) Activated(ObjectRef)                                         {}
func (noHooks) Left(ObjectRef, string)                                      {}
func (noHooks) AfterBatch(ObjectRef, *store.DB, bool, time.Duration, error) {}
func (noHooks) EventDone(string, string, error)                             {}
