package workflow

import (
	"context"
	"encoding/json"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
)

// opBody is the part of an operation that runs in the instance's event,
// with its record m; it reports whether it changed m, which is then stored.
type opBody func(ctx context.Context, p place, j journal, m *meta) (bool, error)

// op returns the body of the operation req and what to do once its event
// succeeded (nil: nothing). Status is read by [Instance.applyIn] itself.
func (i *Instance) op(req opRequest) (opBody, func(), error) {
	switch req.Op {
	case opStatus:
		return nil, nil, nil
	case opEvent:
		body, after := i.eventOp(req.EventType, req.Payload)
		return body, after, nil
	case opPause:
		return i.pauseOp, func() { i.def.e.stopRun(i.home().key) }, nil
	case opResume:
		return i.resumeOp, func() { i.def.e.startAt(i.def, i.home(), nil) }, nil
	case opTerminate:
		return i.terminateOp, i.terminated, nil
	case opRestart:
		return i.restartOp, func() {
			i.def.e.stopRun(i.home().key)
			i.def.e.startAt(i.def, i.home(), nil)
		}, nil
	}
	return nil, nil, errcode.New(errcode.BadRequest, "workflow: no instance operation %q", req.Op)
}

// update runs fn in the instance's event, on o, with its record, and
// stores the record if fn changed it: it returns the record stored.
func (i *Instance) update(ctx context.Context, p place, fn opBody) (*meta, error) {
	j := p.journal()
	m, ok, err := j.meta(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errcode.New(errcode.UnknownInstance, "workflow %s has no instance %q", i.def.name, i.id)
	}
	write, err := fn(ctx, p, j, m)
	if err != nil || !write {
		return nil, err
	}
	m.Updated = i.def.e.clock.Now()
	return m, j.putMeta(ctx, m)
}

// SendEvent sends an event of eventType with payload (JSON, at most 1 MiB)
// to the instance. A WaitForEvent for that type takes it, now or later. An
// instance that finished refuses it (invalid_state).
func (i *Instance) SendEvent(ctx context.Context, eventType string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return errcode.New(errcode.BadRequest, "event payload: encode as JSON: %v", err)
	}
	return i.sendEvent(ctx, eventType, b)
}

func (i *Instance) sendEvent(ctx context.Context, eventType string, payload json.RawMessage) error {
	if err := checkEventType(eventType); err != nil {
		return err
	}
	if len(payload) > MaxPayloadBytes {
		return errcode.New(errcode.LimitExceeded, "event payload of %d bytes, at most %d", len(payload), MaxPayloadBytes)
	}
	if len(payload) == 0 {
		payload = json.RawMessage("null")
	}
	_, _, err := i.apply(ctx, opRequest{Op: opEvent, EventType: eventType, Payload: payload})
	return err
}

// eventOp records an event; it wakes an instance that waits.
func (i *Instance) eventOp(eventType string, payload json.RawMessage) (opBody, func()) {
	wake := false
	body := func(ctx context.Context, p place, j journal, m *meta) (bool, error) {
		if finished(m.Status) {
			return false, errcode.New(errcode.InvalidState, "instance %s is %s: it takes no events", i.id, m.Status)
		}
		ev := &event{Seq: m.Events, Type: eventType, Payload: payload, Received: i.def.e.clock.Now(), TakenBy: -1}
		m.Events++
		if err := j.putEvent(ctx, ev); err != nil {
			return false, err
		}
		if m.Status == StatusWaiting {
			m.Status, wake = StatusRunning, true
			// The wait's timeout goes.
			if err := i.def.e.runningAlarm(ctx, p); err != nil {
				return false, err
			}
		}
		return true, nil
	}
	return body, func() {
		if wake {
			i.def.e.startAt(i.def, i.home(), nil)
		}
	}
}

// Pause pauses the instance: it stops at its next step (a step that runs
// finishes its attempt first) until Resume. Pausing a paused instance does
// nothing; a finished one refuses (invalid_state).
func (i *Instance) Pause(ctx context.Context) error {
	_, _, err := i.apply(ctx, opRequest{Op: opPause})
	return err
}

func (i *Instance) pauseOp(ctx context.Context, p place, j journal, m *meta) (bool, error) {
	switch {
	case m.Status == StatusPaused:
		return false, nil
	case finished(m.Status):
		return false, errcode.New(errcode.InvalidState, "instance %s is %s: it cannot be paused", i.id, m.Status)
	}
	m.Status = StatusPaused
	return true, p.clearWake(ctx)
}

// Resume continues a paused instance; any other refuses (invalid_state).
func (i *Instance) Resume(ctx context.Context) error {
	_, _, err := i.apply(ctx, opRequest{Op: opResume})
	return err
}

func (i *Instance) resumeOp(ctx context.Context, p place, j journal, m *meta) (bool, error) {
	if m.Status != StatusPaused {
		return false, errcode.New(errcode.InvalidState, "instance %s is %s, not paused", i.id, m.Status)
	}
	m.Status = StatusRunning
	return true, i.def.e.arm(ctx, p)
}

// Terminate ends the instance for good (a step that runs finishes its
// attempt first, and its result is dropped). A finished instance refuses
// (invalid_state).
func (i *Instance) Terminate(ctx context.Context) error {
	_, _, err := i.apply(ctx, opRequest{Op: opTerminate})
	return err
}

func (i *Instance) terminateOp(ctx context.Context, p place, j journal, m *meta) (bool, error) {
	if finished(m.Status) {
		return false, errcode.New(errcode.InvalidState, "instance %s is already %s", i.id, m.Status)
	}
	m.Status, m.Finished = StatusTerminated, i.def.e.clock.Now()
	return true, p.clearWake(ctx)
}

// terminated stops the run of an instance that was terminated, and wakes
// its waiters.
func (i *Instance) terminated() {
	i.def.e.metrics.finished.WithLabelValues(i.def.name, StatusTerminated).Inc()
	i.def.e.stopRun(i.home().key)
	i.def.e.notify(i.home().key)
}

// Restart runs the instance again from the start with the same params: its
// journal, events, output and error are dropped. Any instance may restart.
func (i *Instance) Restart(ctx context.Context) error {
	_, _, err := i.apply(ctx, opRequest{Op: opRestart})
	return err
}

func (i *Instance) restartOp(ctx context.Context, p place, j journal, m *meta) (bool, error) {
	if err := j.clear(ctx); err != nil {
		return false, err
	}
	m.Run++
	m.Status, m.Output, m.Error, m.Finished, m.Events = StatusRunning, nil, nil, time.Time{}, 0
	if err := i.def.e.markLive(ctx, p); err != nil {
		return false, err
	}
	return true, i.def.e.runningAlarm(ctx, p) // the old run's sleep, wait or retry goes
}

// arm sets, in cluster mode and for a hosted instance, the beat wake of an
// instance that runs or waits for a slot from now on (see Options.Beat);
// for a standalone instance on a single node it does nothing (a restart
// resumes it from the index).
func (e *Engine) arm(ctx context.Context, p place) error {
	if !e.clustered && !p.h.hosted {
		return nil
	}
	return p.setWake(ctx, e.clock.Now().Add(e.beat))
}
