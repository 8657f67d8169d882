package workflow

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/errcode"
)

// Host runs workflows whose instances live in an object's own storage:
// their params, journals and statuses sit beside the object's data, so a
// step's writes to the object's own tables commit in one transaction with
// the step's record (an order's charge step and its "charged" row), and the
// object's named timers drive their sleeps, waits and retries beside its
// own alarm and timers. Make a Host in the object's constructor, return it
// from the object's WorkflowHost method, and hand the object's timer fires
// to [Host.Timer]:
//
//	type Order struct {
//		st *roost.State
//		wf *workflow.Host
//	}
//
//	func (o *Order) WorkflowHost() *workflow.Host { return o.wf }
//
//	func (o *Order) Timer(ctx context.Context, f roost.TimerFire) error {
//		if ok, err := o.wf.Timer(ctx, f); ok {
//			return err
//		}
//		return nil // the object's own timers
//	}
//
// Start an instance from one of the object's handlers with [Start]; read
// it with [Host.Status], send it events with [Host.SendEvent]. A hosted
// instance's steps run as events of the object, taking turns with its other
// events, on the node that holds the object. Its keys in the object's KV
// store are under "workflow/"; its timers are named "workflow/<name>/<id>".
// Hosted instances are not in the workflow API's index, HTTP routes or
// retention: the object owns them, and [roost.Storage.DeleteAll] removes
// them with its data.
type Host struct {
	e  *Engine
	st *roost.State
}

// NewHost returns the workflow host of the object of st, on engine e.
func NewHost(e *Engine, st *roost.State) *Host { return &Host{e: e, st: st} }

// hoster is an object that hosts workflows.
type hoster interface{ WorkflowHost() *Host }

// hostedTimerPrefix starts the names of the timers of hosted instances.
const hostedTimerPrefix = "workflow/"

// home is the home of the instance id of d in h's object.
func (h *Host) home(d *definition, id string) *home {
	name := hostedTimerPrefix + d.name + "/" + id
	return &home{stub: h.st.Stub(), class: h.st.Class(), prefix: name + "/", timer: name, hosted: true, id: id,
		// '\x00' is in no instance ID: no standalone instance has this key.
		key: runKey{d.name, "\x00" + h.st.Class() + "/" + h.st.ID().String() + "/" + id}}
}

// instance returns the hosted instance id of the workflow named name.
func (h *Host) instance(name, id string) (*Instance, place, error) {
	d, err := h.e.definition(name)
	if err != nil {
		return nil, place{}, err
	}
	if err := checkID(id); err != nil {
		return nil, place{}, err
	}
	hm := h.home(d, id)
	return &Instance{def: d, id: id, h: hm}, place{st: h.st.Storage(), h: hm}, nil
}

// Start creates the instance id of wf in the host's object, in the event of
// the handler that calls it, unless it exists, and starts it once that
// event committed (if the event fails, the instance was never created).
// It reports whether the instance is new; an existing one is left as it is.
func Start[P, R any](ctx context.Context, h *Host, wf *Workflow[P, R], id string, params P) (created bool, err error) {
	d := wf.def
	if d.e != h.e {
		return false, errcode.New(errcode.BadRequest, "workflow: %s is defined on another engine than the host's", d.name)
	}
	if err := checkNewID(id); err != nil {
		return false, err
	}
	b, err := json.Marshal(params)
	if err != nil {
		return false, errcode.New(errcode.BadRequest, "workflow %s: params: encode as JSON: %v", d.name, err)
	}
	if len(b) > MaxPayloadBytes {
		return false, errcode.New(errcode.LimitExceeded, "workflow %s: params of %d bytes, at most %d", d.name, len(b), MaxPayloadBytes)
	}
	hm := h.home(d, id)
	m, err := d.createIn(ctx, place{st: h.st.Storage(), h: hm}, id, b) // its beat resumes it after a restart
	if err != nil || m == nil {
		return false, err
	}
	d.created(hm, m)
	return true, nil
}

// Status returns the status and history of the hosted instance id of the
// workflow named workflow, in the event of the handler that calls it.
func (h *Host) Status(ctx context.Context, workflow, id string) (*Status, error) {
	i, p, err := h.instance(workflow, id)
	if err != nil {
		return nil, err
	}
	j := p.journal()
	m, ok, err := j.meta(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errcode.New(errcode.UnknownInstance, "this %s object hosts no instance %q of workflow %s", h.st.Class(), id, workflow)
	}
	return i.read(ctx, j, m)
}

// SendEvent sends an event of eventType with payload (JSON, at most 1 MiB)
// to the hosted instance id, in the event of the handler that calls it: a
// WaitForEvent for that type takes it, now or later. A finished instance
// refuses it (invalid_state).
func (h *Host) SendEvent(ctx context.Context, workflow, id, eventType string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return errcode.New(errcode.BadRequest, "event payload: encode as JSON: %v", err)
	}
	if err := checkEventType(eventType); err != nil {
		return err
	}
	if len(b) > MaxPayloadBytes {
		return errcode.New(errcode.LimitExceeded, "event payload of %d bytes, at most %d", len(b), MaxPayloadBytes)
	}
	return h.op(ctx, workflow, id, opRequest{Op: opEvent, EventType: eventType, Payload: b})
}

// Terminate ends the hosted instance id for good, in the event of the
// handler that calls it (a step that runs finishes its attempt first, and
// its result is dropped). A finished instance refuses (invalid_state).
func (h *Host) Terminate(ctx context.Context, workflow, id string) error {
	return h.op(ctx, workflow, id, opRequest{Op: opTerminate})
}

// op runs an operation on a hosted instance in the current event.
func (h *Host) op(ctx context.Context, workflow, id string, req opRequest) error {
	i, p, err := h.instance(workflow, id)
	if err != nil {
		return err
	}
	_, after, err := i.applyIn(ctx, p, req)
	if err == nil {
		after()
	}
	return err
}

// Timer handles the fires of the timers that wake the object's hosted
// instances, and reports whether f was one: call it first in the object's
// Timer method, and return its error if it did.
func (h *Host) Timer(ctx context.Context, f roost.TimerFire) (bool, error) {
	rest, ok := strings.CutPrefix(f.Name, hostedTimerPrefix)
	if !ok {
		return false, nil
	}
	name, id, ok := strings.Cut(rest, "/")
	if !ok {
		return false, nil
	}
	d, err := h.e.definition(name)
	if err != nil {
		return true, err // retried: its workflow may be defined later
	}
	return true, d.wake(ctx, place{st: h.st.Storage(), h: h.home(d, id)})
}
