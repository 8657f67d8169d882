package workflow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/errcode"
)

// Instance is a handle on one instance of a workflow. Getting one checks
// nothing; its methods fail with code unknown_instance if the instance does
// not exist.
type Instance struct {
	def *definition
	id  string
}

// ID returns the instance's ID.
func (i *Instance) ID() string { return i.id }

// Status is an instance's state, as the status API shows it.
type Status struct {
	ID       string          `json:"id"`
	Workflow string          `json:"workflow"`
	Status   string          `json:"status"`
	Params   json.RawMessage `json:"params"`
	Output   json.RawMessage `json:"output,omitempty"`
	Error    *ErrorInfo      `json:"error,omitempty"`
	Created  time.Time       `json:"created"`
	Updated  time.Time       `json:"updated"`
	Finished *time.Time      `json:"finished,omitempty"`
	Steps    []StepInfo      `json:"steps"`
}

// Done reports whether the instance ended: complete, errored or
// terminated.
func (s *Status) Done() bool { return finished(s.Status) }

// StepInfo is one entry of an instance's history: a step, a sleep or a
// wait for an event.
type StepInfo struct {
	Name string `json:"name"`
	// Kind is "step", "sleep" or "event".
	Kind string `json:"kind"`
	// State is "done", "retrying" (a step between attempts), "sleeping",
	// "waiting" or "canceled": a step, sleep or wait that the instance's end
	// (it was terminated, or it completed or errored without it) cut short.
	// Its Ended is then when the instance finished. An instance that finished
	// has no step retrying, sleeping or waiting.
	State    string          `json:"state"`
	Attempts int             `json:"attempts,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    *ErrorInfo      `json:"error,omitempty"`
	// EventType is the type a wait takes.
	EventType string     `json:"event_type,omitempty"`
	Started   time.Time  `json:"started"`
	Ended     *time.Time `json:"ended,omitempty"`
	// Until is when a sleep ends, a wait times out or a retry is due.
	Until *time.Time `json:"until,omitempty"`
}

// stepCanceled is the [StepInfo.State] of a step, sleep or wait that did
// not end before its instance did. The journal never holds it: a record
// stays as its run left it, and statusOf shows it in the light of the
// instance's end.
const stepCanceled = "canceled"

func statusOf(m *meta, recs []*record, now time.Time) *Status {
	st := &Status{ID: m.ID, Workflow: m.Workflow, Status: m.Status, Params: m.Params, Output: m.Output, Error: m.Error,
		Created: m.Created, Updated: m.Updated, Steps: make([]StepInfo, len(recs))}
	if !m.Finished.IsZero() {
		st.Finished = &m.Finished
		now = m.Finished // nothing moves on after the end
	}
	for i, r := range recs {
		st.Steps[i] = stepOf(r, st.Finished, now)
	}
	return st
}

// stepOf shows the record r at now, of an instance that finished at
// finished (nil while it has not).
func stepOf(r *record, finished *time.Time, now time.Time) StepInfo {
	s := StepInfo{Name: r.Name, Kind: r.Kind, State: r.State, Attempts: r.Attempts, Result: r.Result, Error: r.Error,
		EventType: r.Type, Started: r.Started}
	if !r.Ended.IsZero() {
		s.Ended = &r.Ended
	}
	if !r.Until.IsZero() {
		s.Until = &r.Until
	}
	switch {
	case r.State == recSleeping && !now.Before(r.Until):
		s.State, s.Ended = recDone, s.Until // slept; its run records nothing more
	case r.State != recDone && finished != nil:
		// Terminated (or ended otherwise) in the middle of it: it will
		// never be over, so it must not look as if it were still going on.
		s.State, s.Ended = stepCanceled, finished
	}
	return s
}

// Create creates an instance with params and starts it. id may be empty
// for a new random ID; an ID that exists returns the existing instance,
// untouched, with created false (creation is idempotent). IDs are 1 to 100
// letters, digits, '-', '_', '.' or ':', and neither "." nor "..": URLs
// cannot address those (an HTTP path cleans them away), so an instance
// with one could not be reached through the HTTP API or the CLI.
func (w *Workflow[P, R]) Create(ctx context.Context, id string, params P) (*Instance, bool, error) {
	b, err := json.Marshal(params)
	if err != nil {
		return nil, false, errcode.New(errcode.BadRequest, "workflow %s: encode params as JSON: %v", w.def.name, err)
	}
	return w.def.create(ctx, id, b)
}

// Get returns a handle on the instance id.
func (w *Workflow[P, R]) Get(id string) *Instance { return &Instance{def: w.def, id: id} }

// Output decodes a complete instance's output.
func (w *Workflow[P, R]) Output(st *Status) (R, error) {
	var out R
	if st.Status != StatusComplete {
		return out, errcode.New(errcode.InvalidState, "workflow %s: instance %s is %s, not complete", w.def.name, st.ID, st.Status)
	}
	if err := json.Unmarshal(st.Output, &out); err != nil {
		return out, fmt.Errorf("workflow %s: decode the output into %T: %w", w.def.name, out, err)
	}
	return out, nil
}

// maxIDLen bounds instance IDs, as Cloudflare's.
const maxIDLen = 100

func checkID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return errcode.New(errcode.BadRequest, "instance ID of %d bytes: want 1 to %d", len(id), maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return errcode.New(errcode.BadRequest, "instance ID %q: byte %d is not a letter, digit, '-', '_', '.' or ':'", id, i)
		}
	}
	return nil
}

// checkNewID checks the ID of an instance to create: [checkID], and not a
// dot segment. Lookups use checkID only, so that an instance created with
// such an ID before creation refused them stays reachable in Go.
func checkNewID(id string) error {
	if id == "." || id == ".." {
		return errcode.New(errcode.BadRequest, "instance ID %q: \".\" and \"..\" are path segments that URLs cannot address; choose another ID", id)
	}
	return checkID(id)
}

func checkEventType(t string) error {
	if err := checkID(t); err != nil {
		return errcode.New(errcode.BadRequest, "event type: %v", err)
	}
	return nil
}

func (d *definition) create(ctx context.Context, id string, params json.RawMessage) (*Instance, bool, error) {
	if id == "" {
		var b [16]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	if err := checkNewID(id); err != nil {
		return nil, false, err
	}
	if len(params) == 0 {
		params = json.RawMessage("null")
	}
	if len(params) > MaxPayloadBytes {
		return nil, false, errcode.New(errcode.LimitExceeded, "workflow %s: params of %d bytes, at most %d", d.name, len(params), MaxPayloadBytes)
	}
	if err := d.checkParams(params); err != nil {
		return nil, false, err
	}
	var m *meta
	created := false
	err := roost.Do(ctx, d.ns.GetByName(id), func(ctx context.Context, o *object) error {
		j := o.journal()
		var ok bool
		var err error
		if m, ok, err = j.meta(ctx); err != nil || ok {
			return err
		}
		now := d.e.clock.Now()
		status := StatusRunning
		if d.e.busy() {
			status = StatusQueued
		}
		m = &meta{Workflow: d.name, ID: id, Params: params, Status: status, Created: now, Updated: now}
		created = true
		if err := o.st.Storage().Put(ctx, paramsKey, params); err != nil {
			return err
		}
		return j.putMeta(ctx, m)
	})
	if err != nil {
		return nil, false, err
	}
	if created {
		d.e.metrics.created.WithLabelValues(d.name).Inc()
		d.e.report(d, m)
		d.e.start(d, id, m)
	}
	return &Instance{def: d, id: id}, created, nil
}

// Status returns the instance's status and history. While the instance
// runs, it comes from memory: it does not wait for a running step.
func (i *Instance) Status(ctx context.Context) (*Status, error) {
	if m, recs, ok := i.def.e.snapshot(i.def.name, i.id); ok {
		return statusOf(m, recs, i.def.e.clock.Now()), nil
	}
	var st *Status
	err := i.do(ctx, func(ctx context.Context, o *object, j journal, m *meta) (bool, error) {
		recs, err := j.records(ctx)
		if err == nil {
			err = j.params(ctx, m)
		}
		if err != nil {
			return false, err
		}
		st = statusOf(m, recs, i.def.e.clock.Now())
		return false, nil
	})
	return st, err
}

// Wait returns the instance's status once it finished, or when ctx ends
// (with ctx's error and the status then), or when the app drains for its
// shutdown (with roost.ErrShuttingDown and the status then: a waiting
// client is answered before the server stops; see roost.App.Drain).
func (i *Instance) Wait(ctx context.Context) (*Status, error) {
	e := i.def.e
	for {
		c := e.waiter(i.def.name, i.id)
		st, err := i.Status(ctx)
		if err != nil || st.Done() {
			e.dropWaiter(i.def.name, i.id, c)
			return st, err
		}
		select {
		case <-c.c:
			if c.st != nil {
				return c.st, nil // the ended run's: no read of the instance
			}
		case <-ctx.Done():
			e.dropWaiter(i.def.name, i.id, c)
			return st, ctx.Err()
		case <-e.app.Draining():
			e.dropWaiter(i.def.name, i.id, c)
			if now, err := i.Status(ctx); err == nil {
				st = now
			}
			return st, roost.ErrShuttingDown
		}
	}
}

// do runs fn as an event of the instance, with its record; fn reports
// whether it changed the record, which is then stored.
func (i *Instance) do(ctx context.Context, fn func(ctx context.Context, o *object, j journal, m *meta) (bool, error)) error {
	if err := checkID(i.id); err != nil {
		return err
	}
	var changed *meta
	err := roost.Do(ctx, i.def.ns.GetByName(i.id), func(ctx context.Context, o *object) error {
		j := o.journal()
		m, ok, err := j.meta(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return errcode.New(errcode.UnknownInstance, "workflow %s has no instance %q", i.def.name, i.id)
		}
		write, err := fn(ctx, o, j, m)
		if err != nil || !write {
			return err
		}
		m.Updated = i.def.e.clock.Now()
		changed = m
		return j.putMeta(ctx, m)
	})
	if err == nil && changed != nil {
		i.def.e.changed(i.def.name, changed)
		i.def.e.report(i.def, changed)
	}
	return err
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
	wake := false
	err := i.do(ctx, func(ctx context.Context, o *object, j journal, m *meta) (bool, error) {
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
			if err := o.st.Storage().DeleteAlarm(ctx); err != nil { // the wait's timeout
				return false, err
			}
		}
		return true, nil
	})
	if err == nil && wake {
		i.def.e.start(i.def, i.id, nil)
	}
	return err
}

// Pause pauses the instance: it stops at its next step (a step that runs
// finishes its attempt first) until Resume. Pausing a paused instance does
// nothing; a finished one refuses (invalid_state).
func (i *Instance) Pause(ctx context.Context) error {
	err := i.do(ctx, func(ctx context.Context, o *object, j journal, m *meta) (bool, error) {
		switch {
		case m.Status == StatusPaused:
			return false, nil
		case finished(m.Status):
			return false, errcode.New(errcode.InvalidState, "instance %s is %s: it cannot be paused", i.id, m.Status)
		}
		m.Status = StatusPaused
		return true, o.st.Storage().DeleteAlarm(ctx)
	})
	if err == nil {
		i.def.e.stopRun(i.def.name, i.id)
	}
	return err
}

// Resume continues a paused instance; any other refuses (invalid_state).
func (i *Instance) Resume(ctx context.Context) error {
	err := i.do(ctx, func(ctx context.Context, o *object, j journal, m *meta) (bool, error) {
		if m.Status != StatusPaused {
			return false, errcode.New(errcode.InvalidState, "instance %s is %s, not paused", i.id, m.Status)
		}
		m.Status = StatusRunning
		return true, nil
	})
	if err == nil {
		i.def.e.start(i.def, i.id, nil)
	}
	return err
}

// Terminate ends the instance for good (a step that runs finishes its
// attempt first, and its result is dropped). A finished instance refuses
// (invalid_state).
func (i *Instance) Terminate(ctx context.Context) error {
	err := i.do(ctx, func(ctx context.Context, o *object, j journal, m *meta) (bool, error) {
		if finished(m.Status) {
			return false, errcode.New(errcode.InvalidState, "instance %s is already %s", i.id, m.Status)
		}
		m.Status, m.Finished = StatusTerminated, i.def.e.clock.Now()
		return true, o.st.Storage().DeleteAlarm(ctx)
	})
	if err == nil {
		i.def.e.metrics.finished.WithLabelValues(i.def.name, StatusTerminated).Inc()
		i.def.e.stopRun(i.def.name, i.id)
		i.def.e.notify(i.def.name, i.id)
	}
	return err
}

// Restart runs the instance again from the start with the same params: its
// journal, events, output and error are dropped. Any instance may restart.
func (i *Instance) Restart(ctx context.Context) error {
	err := i.do(ctx, func(ctx context.Context, o *object, j journal, m *meta) (bool, error) {
		if err := j.clear(ctx); err != nil {
			return false, err
		}
		m.Run++
		m.Status, m.Output, m.Error, m.Finished, m.Events = StatusRunning, nil, nil, time.Time{}, 0
		return true, o.st.Storage().DeleteAlarm(ctx) // the old run's sleep, wait or retry
	})
	if err == nil {
		i.def.e.stopRun(i.def.name, i.id)
		i.def.e.start(i.def, i.id, nil)
	}
	return err
}
