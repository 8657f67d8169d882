package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
)

// Limits of an instance, as Cloudflare Workflows' defaults.
const (
	// MaxResultBytes bounds a step's result and an instance's output.
	MaxResultBytes = 1 << 20
	// MaxPayloadBytes bounds an event's payload and an instance's params.
	MaxPayloadBytes = 1 << 20
	// MaxSteps bounds the journal: steps, sleeps and waits together.
	MaxSteps = 10_000
)

// retryDelay is how long after a run stopped on a failure of the server (a
// failing disk, say) the instance runs again. A crash loses runs too: the
// startup check resumes them (see Engine.reconcile).
const retryDelay = 2 * time.Second

// run is one execution of an instance's function, from its start (or
// resumption) to its end or suspension. The engine holds at most one run
// per instance.
type run struct {
	e    *Engine
	def  *definition
	id   string
	home *home
	log  *slog.Logger
	ctx  context.Context
	stop context.CancelFunc
	// busy ends the run's count in the app's work in flight (roost.App.Busy).
	busy func()

	// stopped is set when the run must end at its next primitive: the
	// instance was paused, terminated or restarted, or the engine closes.
	stopped atomic.Bool
	// again (guarded by the engine's mu) asks for a new run once this one
	// ended: the instance was woken while this run was ending.
	again bool
	// failed is set when the run stopped on a failure of the server: the
	// instance runs again after retryDelay. Written before the run ends.
	failed bool

	// gen is the instance's Run this run executes: its events are refused
	// once the instance restarted. Set before the function starts.
	gen int
	// token, in cluster mode, is the instance's Runner while this run
	// executes it: its events are refused once another run took over
	// (another node ran the instance while its partition was away from
	// this one, and it came back during a step). moved is then set: the
	// instance runs again from its journal. Set before the function starts.
	token string
	moved bool

	// cursor is the journal seq the function asks for next, and suspended
	// is set when a primitive ended the function. Only the function's
	// goroutine writes them.
	cursor    int
	suspended bool

	mu   sync.Mutex // guards meta, recs and partial: the committed state
	meta *meta
	recs []*record
	// partial is set when recs no longer hold the whole journal: the
	// instance moved on without this run.
	partial bool
}

// errStopped ends a run whose instance no longer runs it.
var errStopped = errors.New("workflow: the run was stopped")

// errMoved ends a run that another run took over (see run.token).
var errMoved = errors.New("workflow: another run took the instance over")

// drive runs the function to its end or its suspension.
func (r *run) drive() {
	defer r.e.runEnded(r)
	r.mu.Lock()
	fresh := r.meta != nil
	r.mu.Unlock()
	if !fresh {
		ok, err := r.load()
		if err != nil {
			r.fault("cannot load the instance", err)
			return
		}
		if !ok {
			return
		}
	}
	r.mu.Lock()
	params := r.meta.Params
	r.gen, r.token = r.meta.Run, r.meta.Runner
	r.mu.Unlock()
	var (
		out      []byte
		fnErr    error
		returned bool
		panicked any
		done     = make(chan struct{})
	)
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				panicked = p
			}
		}()
		out, fnErr = r.def.call(wfContext{Context: r.ctx, r: r}, params)
		returned = true
	}()
	<-done
	switch {
	case r.suspended:
		// A primitive ended the run; the instance is as it recorded.
	case panicked != nil:
		r.log.Error("workflow: the function panicked", "panic", panicked)
		r.finish(StatusErrored, nil, errcode.New(errcode.HandlerPanic, "workflow %s: the function panicked: %v", r.def.name, panicked))
	case !returned:
		// The function called runtime.Goexit itself: treat as a failure.
		r.finish(StatusErrored, nil, errcode.New(errcode.HandlerError, "workflow %s: the function exited without returning", r.def.name))
	case fnErr != nil:
		r.finish(StatusErrored, nil, fnErr)
	case len(out) > MaxResultBytes:
		r.finish(StatusErrored, nil, errcode.New(errcode.LimitExceeded, "workflow %s: output of %d bytes, at most %d", r.def.name, len(out), MaxResultBytes))
	default:
		r.finish(StatusComplete, out, nil)
	}
}

// suspend ends the run where the function is: the instance's state and
// wake were recorded, and a later run replays the function. It ends the
// function's goroutine with runtime.Goexit, which no recover stops.
func (r *run) suspend(why string) {
	r.log.Debug("workflow: run suspended", "why", why)
	r.suspended = true
	runtime.Goexit()
}

// load reads the instance and its journal. It reports false if the
// instance has nothing to run.
func (r *run) load() (bool, error) {
	var m *meta
	var recs []*record
	err := r.e.do(r.ctx, r.home, func(ctx context.Context, p place) error {
		j := p.journal()
		var ok bool
		var err error
		if m, ok, err = j.meta(ctx); err != nil || !ok {
			return err
		}
		if err := j.params(ctx, m); err != nil {
			return err
		}
		if recs, err = j.records(ctx); err != nil || !runnable(m.Status) {
			return err
		}
		if r.e.clustered { // take it over from any run that executed it before
			m.Runner = r.e.runnerToken()
			return j.putMeta(ctx, m)
		}
		return nil
	})
	if err != nil || m == nil || !runnable(m.Status) {
		return false, err
	}
	r.mu.Lock()
	r.meta, r.recs = m, recs
	r.mu.Unlock()
	return true, nil
}

// runnable reports whether a run continues an instance in status.
func runnable(status string) bool {
	switch status {
	case StatusQueued, StatusRunning, StatusSleeping, StatusWaiting:
		return true
	}
	return false
}

// event runs fn as an event of the instance, with its record, once the
// instance is still this run's: not paused, terminated or restarted since.
// fn may change m; it is stored after fn. On success the run's snapshot
// takes m and the records fn returns.
func (r *run) event(fn func(ctx context.Context, p place, m *meta) ([]*record, error)) error {
	if r.stopped.Load() {
		return errStopped
	}
	return r.commit(fn)
}

// commit is event, also for a run that was stopped: the outcome of a step
// attempt that ran commits unless the instance moved on (a graceful Close
// lets it).
func (r *run) commit(fn func(ctx context.Context, p place, m *meta) ([]*record, error)) error {
	var m, stored *meta
	var recs []*record
	err := r.e.do(r.ctx, r.home, func(ctx context.Context, p place) error {
		j := p.journal()
		var ok bool
		var err error
		if m, ok, err = j.meta(ctx); err != nil {
			return err
		}
		if !ok || m.Run != r.gen || !runnable(m.Status) {
			stored = m
			return errStopped
		}
		if m.Runner != r.token {
			stored = m
			return errMoved
		}
		if m.Status == StatusQueued {
			m.Status = StatusRunning // its turn came
		}
		if recs, err = fn(ctx, p, m); err != nil {
			return err
		}
		for _, rec := range recs {
			if err := j.putRecord(ctx, rec); err != nil {
				return err
			}
		}
		m.Updated = r.e.clock.Now()
		return j.putMeta(ctx, m)
	})
	if stored != nil {
		// The instance moved on without this run (paused, terminated,
		// restarted, or run to its end by another run): its status shows
		// the instance as stored, and its waiters hear of an end.
		r.mu.Lock()
		stored.Params = r.meta.Params
		r.meta, r.recs, r.partial = stored, nil, true
		r.mu.Unlock()
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.meta.Status
	m.Params = r.meta.Params
	r.meta = m
	for _, rec := range recs {
		if rec.Seq < len(r.recs) {
			r.recs[rec.Seq] = rec
		} else {
			r.recs = append(r.recs, rec)
		}
	}
	if m.Status != prev {
		r.e.reportAt(r.def, r.home, m)
	}
	return nil
}

// abort ends the run after a failed event: errStopped (the instance was
// paused, terminated or restarted) or a failure of the server (shutting
// down, storage; see fault).
func (r *run) abort(err error) {
	r.fault("the run stopped on an error", err)
	r.suspend("aborted")
}

// fault notes that an event of the run failed with err: unless the
// instance moved on (errStopped), the engine closes, or (in cluster mode)
// another node owns the instance now and resumes it with its timer, the
// run ends as failed, and the instance runs again after retryDelay. A run
// that another took over (errMoved) ends, and the instance runs again at
// once from its journal.
func (r *run) fault(what string, err error) {
	if errors.Is(err, errMoved) {
		r.moved = true
		return
	}
	if errors.Is(err, errStopped) || r.ctx.Err() != nil || notOwner(err) {
		return
	}
	r.log.Warn("workflow: "+what+"; it runs again in "+retryDelay.String(), "err", err)
	r.failed = true
}

// next returns the journal record at the cursor, checked against what the
// function asks for, or nil if the function reached the journal's end. It
// moves the cursor on.
func (r *run) next(name, kind string) (int, *record) {
	if r.stopped.Load() {
		r.suspend("stopped")
	}
	seq := r.cursor
	r.cursor++
	r.mu.Lock()
	var rec *record
	if seq < len(r.recs) {
		rec = r.recs[seq]
	}
	r.mu.Unlock()
	switch {
	case rec == nil && seq >= MaxSteps:
		r.fail(errcode.New(errcode.LimitExceeded, "workflow %s: more than %d steps", r.def.name, MaxSteps))
	case rec != nil && (rec.Name != name || rec.Kind != kind):
		r.fail(errcode.New(errcode.Nondeterminism,
			"workflow %s: nondeterministic replay: step %d is %s %q in the journal, but the function asked for %s %q",
			r.def.name, seq, rec.Kind, rec.Name, kind, name))
	}
	return seq, rec
}

// fail ends the instance as errored, from inside the function.
func (r *run) fail(err error) {
	r.log.Error("workflow: the instance failed", "err", err)
	r.finish(StatusErrored, nil, err)
	r.suspend("failed")
}

// sleep runs a sleep: see [Sleep].
func (r *run) sleep(name string, until func(now time.Time) time.Time) error {
	seq, rec := r.next(name, kindSleep)
	now := r.e.clock.Now()
	if rec != nil {
		if rec.State == recDone || !now.Before(rec.Until) {
			return nil
		}
		r.rearm(StatusSleeping, rec.Until)
		r.suspend("sleeping")
	}
	t := until(now)
	got := &record{Seq: seq, Name: name, Kind: kindSleep, State: recSleeping, Started: now, Until: t}
	if !now.Before(t) {
		got.State, got.Ended = recDone, now
	}
	err := r.event(func(ctx context.Context, p place, m *meta) ([]*record, error) {
		if got.State == recSleeping {
			m.Status = StatusSleeping
			if err := p.setWake(ctx, t); err != nil {
				return nil, err
			}
		}
		return []*record{got}, nil
	})
	if err != nil {
		r.abort(err)
	}
	if got.State == recSleeping {
		r.suspend("sleeping")
	}
	return nil
}

// rearm makes sure, in an event, that the instance waits for a sleep or
// a retry that a replay reached before its time (after a pause and a
// resume, or a wake that came while the run that recorded it was ending):
// its wake is set for until (a pause removed it), and its status is
// status (unless "").
func (r *run) rearm(status string, until time.Time) {
	err := r.event(func(ctx context.Context, p place, m *meta) ([]*record, error) {
		if status != "" {
			m.Status = status
		}
		return nil, p.setWake(ctx, until)
	})
	if err != nil {
		r.abort(err)
	}
}

// wait runs a wait for an event: see [WaitForEvent].
func (r *run) wait(name, eventType string, timeout time.Duration) (json.RawMessage, error) {
	seq, rec := r.next(name, kindEvent)
	if rec != nil && rec.State == recDone {
		return rec.Result, waitError(rec)
	}
	var got *record
	err := r.event(func(ctx context.Context, p place, m *meta) ([]*record, error) {
		j := p.journal()
		now := r.e.clock.Now()
		got = &record{Seq: seq, Name: name, Kind: kindEvent, Type: eventType, State: recWaiting, Started: now, Until: now.Add(timeout)}
		if rec != nil {
			got.Started, got.Until = rec.Started, rec.Until
		}
		evs, err := j.events(ctx)
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(evs, func(ev *event) bool { return ev.Type == eventType && ev.TakenBy < 0 }); i >= 0 {
			ev := evs[i]
			ev.TakenBy = seq
			if err := j.putEvent(ctx, ev); err != nil {
				return nil, err
			}
			got.State, got.Result, got.Ended = recDone, ev.Payload, now
			m.Status = StatusRunning
			return []*record{got}, nil
		}
		if !now.Before(got.Until) {
			got.State, got.Ended = recDone, now
			got.Error = &ErrorInfo{Code: string(errcode.Timeout), Message: fmt.Sprintf(
				"workflow: event %q (wait %q) did not arrive within %s", eventType, name, got.Until.Sub(got.Started))}
			m.Status = StatusRunning
			return []*record{got}, nil
		}
		m.Status = StatusWaiting
		if err := p.setWake(ctx, got.Until); err != nil {
			return nil, err
		}
		return []*record{got}, nil
	})
	if err != nil {
		r.abort(err)
	}
	if got.State != recDone {
		r.suspend("waiting")
	}
	return got.Result, waitError(got)
}

// waitError returns the error of a finished wait: nil, or a timeout that
// matches ErrEventTimeout.
func waitError(rec *record) error {
	if rec.Error == nil {
		return nil
	}
	return &errcode.Error{Code: errcode.Code(rec.Error.Code), Message: rec.Error.Message, Err: ErrEventTimeout}
}

// finish records the instance's end, in an event of its own, also while
// the engine closes (the instance moved on if it was paused, terminated or
// restarted: then nothing is recorded).
func (r *run) finish(status string, out []byte, fnErr error) {
	err := r.commit(func(ctx context.Context, p place, m *meta) ([]*record, error) {
		m.Status, m.Output, m.Finished = status, out, r.e.clock.Now()
		if fnErr != nil {
			m.Error = errorInfo(fnErr)
		}
		return nil, p.clearWake(ctx)
	})
	if err != nil {
		r.fault("cannot record the instance's end", err)
		return
	}
	r.e.metrics.finished.WithLabelValues(r.def.name, status).Inc()
}
