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
	// h is the home of a hosted instance; nil for a standalone one.
	h *home
}

// home returns the instance's home.
func (i *Instance) home() *home {
	if i.h != nil {
		return i.h
	}
	return i.def.standalone(i.id)
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
	i := &Instance{def: d, id: id}
	reply, _, err := i.apply(ctx, opRequest{Op: opCreate, Params: params})
	if err != nil {
		return nil, false, err
	}
	return i, reply.Created, nil
}

// createIn creates the instance id in an event of its home, p, unless it
// exists: it returns the new instance's record, or nil.
func (d *definition) createIn(ctx context.Context, p place, id string, params json.RawMessage) (*meta, error) {
	j := p.journal()
	if _, ok, err := j.meta(ctx); err != nil || ok {
		return nil, err
	}
	now := d.e.clock.Now()
	status := StatusRunning
	if d.e.busy() {
		status = StatusQueued
	}
	m := &meta{Workflow: d.name, ID: id, Params: params, Status: status, Created: now, Updated: now, Runner: d.e.runnerToken()}
	if err := j.putParams(ctx, params); err != nil {
		return nil, err
	}
	if err := d.e.markLive(ctx, p); err != nil {
		return nil, err
	}
	if err := d.e.arm(ctx, p); err != nil {
		return nil, err
	}
	return m, j.putMeta(ctx, m)
}

// created starts the instance at home h that createIn created, once its
// event succeeded (or, for a hosted one, at once: its run's first event
// waits for the creating one, and finds nothing to run if it failed).
func (d *definition) created(h *home, m *meta) {
	d.e.metrics.created.WithLabelValues(d.name).Inc()
	d.e.reportAt(d, h, m)
	d.e.startAt(d, h, m)
}

// Status returns the instance's status and history. While the instance
// runs, it comes from memory: it does not wait for a running step. (In
// cluster mode, the status of an instance that another node owns comes
// from that node, and waits for a step that runs there.)
func (i *Instance) Status(ctx context.Context) (*Status, error) {
	st, _, err := i.status(ctx)
	return st, err
}

// status is Status; remote reports that the instance's owner is another
// node.
func (i *Instance) status(ctx context.Context) (*Status, bool, error) {
	if m, recs, ok := i.def.e.snapshot(i.def.name, i.id); ok {
		return statusOf(m, recs, i.def.e.clock.Now()), false, nil
	}
	reply, remote, err := i.apply(ctx, opRequest{Op: opStatus})
	return reply.Status, remote, err
}

// read returns the status of the instance whose record is m, in its event.
func (i *Instance) read(ctx context.Context, j journal, m *meta) (*Status, error) {
	recs, err := j.records(ctx)
	if err == nil {
		err = j.params(ctx, m)
	}
	if err != nil {
		return nil, err
	}
	return statusOf(m, recs, i.def.e.clock.Now()), nil
}

// Wait returns the instance's status once it finished, or when ctx ends
// (with ctx's error and the last status it read, nil if none), or when the
// app drains for its shutdown (with roost.ErrShuttingDown and the status
// then: a waiting client is answered before the server stops; see
// roost.App.Drain). In cluster mode, a wait for an instance that another
// node owns asks that node for its status again and again, at most a
// second apart.
func (i *Instance) Wait(ctx context.Context) (*Status, error) {
	e := i.def.e
	pause := pollFirst
	var last *Status
	for {
		c := e.waiter(i.def.name, i.id)
		st, remote, err := i.status(ctx)
		if err != nil && ctx.Err() != nil {
			// ctx ended during a read from the owner node, which reports
			// its own timeout: the wait ended.
			e.dropWaiter(i.def.name, i.id, c)
			return last, ctx.Err()
		}
		if err != nil || st.Done() {
			e.dropWaiter(i.def.name, i.id, c)
			return st, err
		}
		last = st
		var poll <-chan time.Time
		if remote { // its end is not heard here (an unstopped timer is collected)
			e.dropWaiter(i.def.name, i.id, c)
			poll, pause = time.After(pause), min(2*pause, pollMax)
		}
		select {
		case <-c.c:
			if c.st != nil {
				return c.st, nil // the ended run's: no read of the instance
			}
		case <-poll:
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
