package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
)

// Engine runs the workflows defined on it, on one app. Make one with [New],
// define workflows on it with [Define], and Close it before the app.
type Engine struct {
	app     *roost.App
	clock   roost.Clock
	log     *slog.Logger
	index   *index
	metrics *metrics

	// ctx is the runs' context (and the startup checks'): canceled by
	// Close once they stopped, or when Close gives up waiting for them.
	ctx    context.Context
	cancel context.CancelFunc

	closeOnce sync.Once
	closeErr  error // the first Close's result

	maxRunning int
	// clustered is set in cluster mode: see remote.go.
	clustered bool
	beat      time.Duration // see Options.Beat
	// retention is Options.Retention; the sweeper purges what outlived it,
	// until sweepStop closes, and then closes sweepDone.
	retention            time.Duration
	sweepStop, sweepDone chan struct{}

	mu      sync.Mutex
	defs    map[string]*definition
	live    map[runKey]*run
	queue   []queued        // runs waiting for a slot, first come first served
	inQueue map[runKey]bool // the keys in queue
	waiters map[runKey][]*waiter
	closing bool
	retries map[runKey]roost.Timer // runs to start again after a failure (see retryLocked)
	wg      sync.WaitGroup         // runs and background work
	// resuming counts the startup checks of the definitions (see resume).
	resuming sync.WaitGroup
	// unchecked holds the workflows whose startup check has not succeeded:
	// Close leaves their indexes unmarked, so the next start checks again.
	unchecked map[string]bool
}

// queued is a run waiting for a slot.
type queued struct {
	d     *definition
	h     *home
	fresh *meta
}

// Options configure an [Engine]. Zero fields are defaults.
type Options struct {
	// MaxRunning bounds the instances whose functions run at once
	// (sleeping and waiting ones do not count). Beyond it, instances wait
	// their turn in status queued. Default 1,024.
	MaxRunning int
	// Beat matters in cluster mode only: an instance that runs keeps its
	// timer set this far ahead, and when the node that runs it fails, the
	// node that takes its shard over resumes it once the timer is due. So
	// an instance resumes within the failover plus Beat; each Beat of a run
	// costs one write. Default 5s; at least 1s.
	Beat time.Duration
	// Retention is how long a finished (complete, errored or terminated)
	// instance is kept, counted from its end; then the engine purges it
	// with its journal (see [Engine.Purge]), checking every hundredth of
	// the retention (at least every hour). Default DefaultRetention (30
	// days); negative keeps instances forever.
	Retention time.Duration
}

type runKey struct{ workflow, id string }

// New returns an engine on app with the default options, and registers the
// class of its index ("workflow-index"). Mount [Engine.Handler] to serve the
// HTTP API.
func New(app *roost.App) *Engine { return NewWithOptions(app, Options{}) }

// NewWithOptions is [New] with options. An app has at most one engine:
// a second panics, like a second roost.Register of a class.
func NewWithOptions(app *roost.App, opts Options) *Engine {
	if opts.MaxRunning <= 0 {
		opts.MaxRunning = 1024
	}
	if opts.Beat <= 0 {
		opts.Beat = defaultBeat
	}
	opts.Beat = max(opts.Beat, time.Second)
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{app: app, clock: app.Clock(), log: app.Logger(), ctx: ctx, cancel: cancel, maxRunning: opts.MaxRunning,
		clustered: app.Node() != "", beat: opts.Beat, retention: opts.Retention,
		sweepStop: make(chan struct{}), sweepDone: make(chan struct{}),
		defs: map[string]*definition{}, live: map[runKey]*run{}, inQueue: map[runKey]bool{}, waiters: map[runKey][]*waiter{},
		retries: map[runKey]roost.Timer{}, unchecked: map[string]bool{}}
	e.index = newIndex(e)
	m, err := newMetrics(e)
	if err != nil {
		panic(fmt.Sprintf("workflow: one engine per app: %v", err))
	}
	e.metrics = m
	e.index.start() // last: a panic above leaves no goroutine behind
	if e.retention > 0 {
		go e.sweeper()
	} else {
		close(e.sweepDone)
	}
	return e
}

// Close stops the engine, gracefully first: runs end at their next
// primitive (a step that runs finishes its attempt), and Close waits for
// them and for the startup checks, bounded by ctx. Then the index is
// flushed and marked complete. If ctx ends first, the runs' contexts are
// canceled (a running step sees its ctx end), the index is not marked
// complete (the next start checks the instances, see resume), and Close
// returns an error wrapping ctx's error. Either way, every goroutine the
// engine started has ended when Close returns, so a step that ignores its
// ctx holds Close up.
//
// Instances that were running resume when the app is opened again. Close
// the engine before the app. It is safe to call more than once: later
// calls return the first one's result.
func (e *Engine) Close(ctx context.Context) error {
	e.closeOnce.Do(func() { e.closeErr = e.close(ctx) })
	return e.closeErr
}

func (e *Engine) close(ctx context.Context) error {
	e.mu.Lock()
	e.closing = true
	for _, r := range e.live {
		r.stopped.Store(true)
	}
	for k, t := range e.retries {
		t.Stop()
		delete(e.retries, k)
	}
	e.mu.Unlock()
	close(e.sweepStop)
	<-e.sweepDone // a purge in progress stops at its next instance
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		// Canceled only now, not at once: a step that runs finishes its
		// attempt, and its result commits, instead of failing on a
		// canceled ctx and running again at the next start.
		e.cancel()
	case <-ctx.Done():
		e.cancel()
		<-done
		e.index.abort()
		return fmt.Errorf("workflow: close: %w", ctx.Err())
	}
	if err := e.index.close(ctx); err != nil {
		return err
	}
	return e.markClean(ctx)
}

// definition is a defined workflow.
type definition struct {
	e    *Engine
	name string
	// parts is the class of its partitions, and partStubs their stubs
	// (see partition.go).
	parts     *roost.Namespace
	partStubs [partitions]*roost.Stub
	// ns is the class of its old instance objects (see legacy.go); legacy
	// is set while this node may have some, and migrating serializes
	// their moves.
	ns        *roost.Namespace
	legacy    atomic.Bool
	migrating sync.Mutex
	// call decodes the params, runs the function and encodes its output.
	call func(ctx Context, params json.RawMessage) ([]byte, error)
	// checkParams tells whether params decode into the function's P.
	checkParams func(params json.RawMessage) error
}

// Workflow is a defined workflow with params P and output R.
type Workflow[P, R any] struct{ def *definition }

// classPrefix starts the class names of workflows' old instance objects
// (see legacy.go).
const classPrefix = "wf-"

// Define defines the workflow name, run by fn, on the engine: its
// instances live in objects of class "wfp-<name>" (see [Engine]). name
// follows the rules of class names (a-z first, then a-z, 0-9, '_' or '-').
// Define panics on a bad or duplicate name, like roost.Register.
func Define[P, R any](e *Engine, name string, fn func(ctx Context, params P) (R, error)) *Workflow[P, R] {
	if err := ids.ValidClass(partitionClassPrefix + name); err != nil {
		panic(fmt.Sprintf("workflow: define %q: %v", name, err))
	}
	d := &definition{e: e, name: name,
		call: func(ctx Context, params json.RawMessage) ([]byte, error) {
			var p P
			if err := json.Unmarshal(params, &p); err != nil {
				return nil, errcode.New(errcode.BadRequest, "workflow %s: params: %v", name, err)
			}
			out, err := fn(ctx, p)
			if err != nil {
				return nil, err
			}
			b, err := json.Marshal(out)
			if err != nil {
				return nil, fmt.Errorf("workflow %s: encode the output as JSON: %w", name, err)
			}
			return b, nil
		},
		checkParams: func(params json.RawMessage) error {
			var p P
			if err := json.Unmarshal(params, &p); err != nil {
				return errcode.New(errcode.BadRequest, "workflow %s: params do not decode into %T: %v", name, p, err)
			}
			return nil
		},
	}
	e.mu.Lock()
	if _, dup := e.defs[name]; dup {
		e.mu.Unlock()
		panic(fmt.Sprintf("workflow: define %q: already defined", name))
	}
	e.defs[name] = d
	e.mu.Unlock()
	d.registerPartitions()
	d.ns = roost.Register(e.app, classPrefix+name, func(st *roost.State) (*object, error) {
		return &object{st: st, def: d}, nil
	})
	e.migrateAll(d)
	e.resume(d)
	return &Workflow[P, R]{def: d}
}

// Name returns the workflow's name.
func (w *Workflow[P, R]) Name() string { return w.def.name }

// definition returns the workflow named name.
func (e *Engine) definition(name string) (*definition, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, ok := e.defs[name]
	if !ok {
		return nil, errcode.New(errcode.UnknownWorkflow, "no workflow named %q", name)
	}
	return d, nil
}

// wake resumes the instance at p, in an event of its home, if it exists
// and runs: its sleep ended, its wait timed out, its retry is due, or its
// beat came.
func (d *definition) wake(ctx context.Context, p place) error {
	e := d.e
	m, ok, err := p.journal().meta(ctx)
	if err != nil || !ok {
		return err
	}
	if !runnable(m.Status) {
		return nil
	}
	if m.Status == StatusSleeping || m.Status == StatusWaiting {
		m.Status, m.Updated = StatusRunning, e.clock.Now()
		if err := p.journal().putMeta(ctx, m); err != nil {
			return err
		}
		e.reportAt(d, p.h, m)
	}
	if err := e.arm(ctx, p); err != nil {
		return err
	}
	// A live run may be ending (it suspended for this very wake): start
	// then has it run again once it ended. Its first event waits for this
	// one to commit.
	e.startAt(d, p.h, nil)
	return nil
}

// busy reports whether every run slot is taken: a new instance will wait.
func (e *Engine) busy() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.live) >= e.maxRunning
}

func (e *Engine) isLive(workflow, id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.live[runKey{workflow, id}] != nil
}

// startAt starts a run of the instance at home h, unless one is live: that
// one starts another when it ends. Without a free slot, the run waits in
// the queue. fresh, if not nil, is the state of an instance just created
// (no journal to load).
func (e *Engine) startAt(d *definition, h *home, fresh *meta) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.startLocked(d, h, fresh)
}

func (e *Engine) startLocked(d *definition, h *home, fresh *meta) {
	k := h.key
	switch r := e.live[k]; {
	case e.closing:
		return
	case r != nil:
		r.again = true
		return
	case e.inQueue[k]:
		return
	case len(e.live) >= e.maxRunning:
		e.queue = append(e.queue, queued{d, h, fresh})
		e.inQueue[k] = true
		return
	}
	ctx, stop := context.WithCancel(e.ctx)
	id := h.id
	log := e.log.With("workflow", d.name, "instance", id)
	if h.hosted {
		log = log.With("host", h.class+"/"+h.stub.ID().String())
	}
	r := &run{e: e, def: d, id: id, home: h, ctx: ctx, stop: stop, log: log, meta: fresh}
	e.live[k] = r
	e.wg.Add(1)
	r.busy = e.app.Busy() // counted before the event that started it ends
	go r.drive()
}

// runEnded forgets a run, and starts the next if one was asked for.
func (e *Engine) runEnded(r *run) {
	r.stop()
	k := r.home.key
	r.mu.Lock()
	done := r.meta != nil && finished(r.meta.Status)
	var m *meta
	var recs []*record
	if done && !r.partial {
		m, recs = r.meta, r.recs // its end is committed: no one changes them now
	}
	r.mu.Unlock()
	e.mu.Lock()
	delete(e.live, k)
	var waiters []*waiter
	if done {
		waiters = e.waiters[k]
		delete(e.waiters, k)
	}
	switch {
	case r.again, r.moved:
		e.startLocked(r.def, r.home, nil)
	case r.failed && !e.closing:
		e.retryLocked(r.def, r.home)
	}
	for len(e.queue) > 0 && len(e.live) < e.maxRunning && !e.closing {
		q := e.queue[0]
		e.queue[0] = queued{}
		e.queue = e.queue[1:]
		delete(e.inQueue, q.h.key)
		if e.clustered {
			// While it waited, its partition may have moved to another
			// node, run it there and come back: its run reads it.
			q.fresh = nil
		}
		e.startLocked(q.d, q.h, q.fresh)
	}
	e.mu.Unlock()
	for _, w := range waiters {
		if m != nil {
			w.st = statusOf(m, recs, e.clock.Now())
		}
		close(w.c)
	}
	r.busy()
	e.wg.Done()
}

// retryLocked starts a run of the instance again after retryDelay; Close
// stops the timer.
func (e *Engine) retryLocked(d *definition, h *home) {
	k := h.key
	if t := e.retries[k]; t != nil {
		t.Stop()
	}
	var t roost.Timer
	t = e.clock.AfterFunc(retryDelay, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.retries[k] == t {
			delete(e.retries, k)
		}
		e.startLocked(d, h, nil)
	})
	e.retries[k] = t // under e.mu, which the timer's func takes first
}

// stopRun stops the instance's live run, if any, at its next primitive.
func (e *Engine) stopRun(k runKey) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.live[k]; r != nil {
		r.stopped.Store(true)
		r.again = false
	}
}

// notify wakes the waiters of an instance that finished without a run
// (terminated).
func (e *Engine) notify(k runKey) {
	e.mu.Lock()
	waiters := e.waiters[k]
	delete(e.waiters, k)
	e.mu.Unlock()
	for _, w := range waiters {
		close(w.c)
	}
}

// waiter is a Wait for an instance's end.
type waiter struct {
	c chan struct{} // closed when the instance finished (or, at worst, when its next run ended)
	// st is, if not nil, the instance's status at its end, as the run that
	// ended it committed it; set before c is closed.
	st *Status
}

// waiter returns a new waiter for the instance.
func (e *Engine) waiter(workflow, id string) *waiter {
	k := runKey{workflow, id}
	w := &waiter{c: make(chan struct{})}
	e.mu.Lock()
	e.waiters[k] = append(e.waiters[k], w)
	e.mu.Unlock()
	return w
}

// dropWaiter forgets a waiter that gave up.
func (e *Engine) dropWaiter(workflow, id string, c *waiter) {
	k := runKey{workflow, id}
	e.mu.Lock()
	defer e.mu.Unlock()
	ws := e.waiters[k]
	for i, w := range ws {
		if w == c {
			e.waiters[k] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(e.waiters[k]) == 0 {
		delete(e.waiters, k)
	}
}

// changedAt gives the live run of the instance whose key is k the record
// an operation from outside it committed (pause, terminate, an event), so that its status
// shows it.
func (e *Engine) changedAt(k runKey, m *meta) {
	e.mu.Lock()
	r := e.live[k]
	e.mu.Unlock()
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.meta == nil {
		return
	}
	if r.meta.Run != m.Run { // restarted: the run's journal is no longer the instance's
		r.recs = nil
	}
	c := *m
	c.Params = r.meta.Params
	r.meta = &c
}

// snapshot returns the live run's view of an instance, if it has one.
func (e *Engine) snapshot(workflow, id string) (*meta, []*record, bool) {
	e.mu.Lock()
	r := e.live[runKey{workflow, id}]
	e.mu.Unlock()
	if r == nil {
		return nil, nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.meta == nil || r.partial {
		return nil, nil, false // read from its home
	}
	m := *r.meta
	return &m, append([]*record(nil), r.recs...), true
}
