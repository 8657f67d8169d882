package runtime

import (
	"container/list"
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/store"
)

// object is an active object: its mailbox and, owned by its goroutine, the
// live instance and its database.
type object struct {
	rt    *Runtime
	class *Class
	id    ids.ID
	elem  *list.Element
	name  atomic.Pointer[string] // the name it was first addressed by, if any
	wake  chan struct{}          // 1-buffered: "look at your state"
	done  chan struct{}          // closed when the goroutine ended and the file is closed
	prev  <-chan struct{}

	// Guarded by rt.mu:
	queue []*event
	busy  bool // running events
	evict bool // asked to leave (LRU)
	idle  bool // the idle timer fired
	// waitingSince is when the object last ran out of events; zero while it
	// runs a batch. The idle timer checks it, so a late fire is harmless.
	waitingSince time.Time
	leaving      bool // takes no more events; a new instance waits for it to close
	leaveReason  string
	// room, if not nil, is closed when the object next takes events from its
	// queue: callers waiting for room in a full queue wait for it.
	room chan struct{}

	// Owned by the goroutine:
	idleTimer clock.Timer
	inst      any
	act       *Activation
	db        *store.DB
	// effects wait for the commit of the batch's events that made them.
	effects []func()
	// mustReset is set when the instance must be discarded after the current
	// event (a failed BlockConcurrencyWhile); concurrent events set it too.
	mustReset atomic.Bool

	// inflight counts concurrent events (concurrent classes only).
	inflight sync.WaitGroup
	concurrentState
}

func (o *object) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *object) log() []any {
	return []any{"class", o.class.Name, "id", o.id.String()}
}

// run is the mailbox goroutine.
func (o *object) run() {
	defer o.rt.wg.Done()
	defer close(o.done)
	if o.prev != nil {
		<-o.prev // single activation: the previous instance closes its file first
	}
	defer func() {
		if o.idleTimer != nil {
			o.idleTimer.Stop()
		}
		o.inflight.Wait()
		if o.inst != nil {
			o.rt.hooks.Left(o.ref(), o.leaveReason)
		}
		o.discard(true)
		o.rt.gone(o)
	}()
	for {
		batch, leave := o.next()
		if leave {
			return
		}
		if o.class.Concurrent {
			o.startConcurrent(batch)
		} else {
			o.runBatch(batch)
		}
	}
}

// next waits for events and takes a batch of them, or reports that the
// object should leave (idle, evicted, closing) with nothing queued.
func (o *object) next() ([]*event, bool) {
	r := o.rt
	for {
		r.mu.Lock()
		if n := o.batchLenLocked(); n > 0 {
			batch := o.queue[:n:n]
			o.queue = o.queue[n:]
			if o.room != nil {
				close(o.room)
				o.room = nil
			}
			o.busy, o.idle = true, false
			o.waitingSince = time.Time{}
			r.mu.Unlock()
			return batch, false
		}
		if o.idle || o.evict || r.closing {
			switch {
			case r.closing:
				o.leaveReason = "shutdown"
			case o.evict:
				o.leaveReason = "lru"
			default:
				o.leaveReason = "idle"
			}
			r.leaveLocked(o)
			r.mu.Unlock()
			return nil, true
		}
		o.busy = false
		// Concurrent events still running keep the object busy; the last one
		// to end wakes it.
		waiting := !(o.class.Concurrent && o.busyConcurrent())
		arm := waiting && o.waitingSince.IsZero()
		if arm {
			o.waitingSince = r.cfg.Clock.Now()
		} else if !waiting {
			o.waitingSince = time.Time{}
		}
		r.mu.Unlock()
		if arm {
			o.armIdle()
		}
		<-o.wake
	}
}

// batchLenLocked is the number of queued events the next batch takes: up to
// MaxBatch, stopping before a solo event, which runs alone.
func (o *object) batchLenLocked() int {
	n := min(len(o.queue), o.rt.cfg.MaxBatch)
	for i, ev := range o.queue[:n] {
		if ev.Solo {
			return max(i, 1)
		}
	}
	return n
}

// ref names the object for hooks.
func (o *object) ref() ObjectRef {
	r := ObjectRef{Class: o.class.Name, ID: o.id}
	if n := o.name.Load(); n != nil {
		r.Name = *n
	}
	return r
}

// armIdle (re)starts the object's one idle timer for a full idle timeout.
func (o *object) armIdle() {
	d := o.rt.cfg.IdleTimeout
	if d < 0 {
		return
	}
	if o.idleTimer == nil {
		o.idleTimer = o.rt.cfg.Clock.AfterFunc(d, o.idleFired)
		return
	}
	o.idleTimer.Reset(d)
}

// idleFired marks the object idle if it has been waiting for events for the
// whole idle timeout; a fire armed before its last batch finds it waiting for
// less, or not at all, and does nothing.
func (o *object) idleFired() {
	r := o.rt
	r.mu.Lock()
	if !o.waitingSince.IsZero() && r.cfg.Clock.Now().Sub(o.waitingSince) >= r.cfg.IdleTimeout {
		o.idle = true
	}
	r.mu.Unlock()
	o.signal()
}

// runBatch runs events one at a time, each in its own savepoint, then commits
// them together and answers them. A failed event is answered with its error
// after the events before it committed; the events after it go back to the
// front of the queue for the next (re-created) instance.
func (o *object) runBatch(batch []*event) {
	if batch[0].Solo {
		o.runSolo(batch[0])
		return
	}
	var ok []*event
	for i, ev := range batch {
		if !ev.start() {
			continue
		}
		if run, err := o.probe(ev); err != nil || !run {
			if err != nil {
				ev.reply(err)
			} else {
				ok = append(ok, ev) // answered after the batch commits
			}
			continue
		}
		if err := o.ensure(ev); err != nil {
			ev.reply(err)
			continue
		}
		if err := o.runOne(ev); err != nil {
			o.finish(ok)
			ev.reply(err)
			o.reset()
			o.requeue(batch[i+1:])
			return
		}
		ok = append(ok, ev)
	}
	o.finish(ok)
}

// runSolo runs an event with no batch transaction open: each of its writes
// commits as it goes.
func (o *object) runSolo(ev *event) {
	if !ev.start() {
		return
	}
	if err := o.ensure(ev); err != nil {
		ev.reply(err)
		return
	}
	ctx, cancel := o.eventContext(ev.ctx)
	ctx, fx := withEffects(ctx)
	err := o.call(ctx, ev)
	cancel()
	if err == nil {
		runEffects(fx.fns) // its writes committed as they went
	}
	if err != nil && !ev.Storage || ev.Reset {
		o.reset()
	}
	if !ev.Storage {
		// Storage events are the operator's, not the object's activity.
		o.rt.hooks.AfterBatch(o.ref(), o.db, false, 0, nil)
	}
	ev.reply(err)
}

// probe runs ev's Probe, if any, and reports whether ev should run.
func (o *object) probe(ev *event) (bool, error) {
	if ev.Probe == nil {
		return true, nil
	}
	if err := o.openDB(); err != nil {
		return false, err
	}
	ctx, cancel := o.eventContext(ev.ctx)
	defer cancel()
	var run bool
	err := o.protect(func() (err error) {
		run, err = ev.Probe(ctx, o.db)
		return err
	})
	return run, err
}

// ensure prepares the object for ev: the database open, and the instance
// constructed unless ev is a storage event.
func (o *object) ensure(ev *event) error {
	if ev.Storage {
		return o.openDB()
	}
	return o.ensureInstance(ev.ctx)
}

// runOne runs a serialized event inside its savepoint. Its effects wait
// for the batch's commit.
func (o *object) runOne(ev *event) error {
	ctx, cancel := o.eventContext(ev.ctx)
	defer cancel()
	ctx, fx := withEffects(ctx)
	if err := o.db.BeginEvent(ctx); err != nil {
		return err
	}
	err := o.call(ctx, ev)
	if o.mustReset.Load() && err == nil {
		err = &errcode.Error{Code: errcode.InitFailed, Message: "BlockConcurrencyWhile failed: the instance was reset"}
	}
	if endErr := o.db.EndEvent(err == nil); err == nil {
		err = endErr
	}
	if err == nil {
		o.effects = append(o.effects, fx.fns...)
	}
	return err
}

// finish commits the batch and answers its events.
func (o *object) finish(ok []*event) {
	if len(ok) == 0 && o.db == nil {
		return
	}
	wrote := o.db.Dirty()
	var err error
	var d time.Duration
	if wrote {
		parent := o.rt.ctx
		if len(ok) > 0 {
			parent = ok[0].ctx
		}
		_, span := o.rt.tracer.Start(parent, "roost.commit")
		span.SetAttributes(attribute.Int("roost.events", len(ok)))
		start := time.Now()
		err = o.db.Commit()
		d = time.Since(start)
		endSpan(span, err)
		if err != nil {
			o.rt.log.Error("commit failed; instance reset", append(o.log(), "events", len(ok), "err", err)...)
			err = fmt.Errorf("commit: %w", err)
		}
	}
	o.rt.hooks.AfterBatch(o.ref(), o.db, wrote, d, err)
	fx := o.effects
	o.effects = nil
	if err == nil {
		runEffects(fx)
	}
	for _, ev := range ok {
		ev.reply(err)
	}
	if err != nil {
		o.reset()
		o.closeDB()
	}
}

func (o *object) requeue(rest []*event) {
	if len(rest) == 0 {
		return
	}
	o.rt.mu.Lock()
	o.queue = append(append([]*event(nil), rest...), o.queue...)
	o.rt.mu.Unlock()
}

// eventContext is the handler's context: the caller's, with this object
// added to the call chain, also canceled when the runtime gives up on a
// graceful close.
func (o *object) eventContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(withChain(parent, objKey{o.class.Name, o.id}))
	stop := context.AfterFunc(o.rt.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// call runs the event's code and turns a panic into an error.
func (o *object) call(ctx context.Context, ev *event) (err error) {
	return o.protect(func() error { return ev.Fn(ctx, o.inst, o.db) })
}

// protect runs user code and turns a panic into an error.
func (o *object) protect(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			o.rt.log.Error("handler panic; instance reset", append(o.log(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))...)
			err = &errcode.Error{Code: errcode.HandlerPanic, Message: fmt.Sprintf("handler panicked: %v", p)}
		}
	}()
	return fn()
}

// ensureInstance opens the database and runs the constructor if there is no
// live instance, in an event of its own that commits before any other event.
func (o *object) ensureInstance(ctx context.Context) error {
	if o.inst != nil {
		return nil
	}
	if err := o.openDB(); err != nil {
		return err
	}
	o.act = &Activation{obj: o, db: o.db}
	o.mustReset.Store(false)
	err := o.runOne(&event{ctx: ctx, Event: &Event{Fn: func(ctx context.Context, _ any, _ *store.DB) error {
		inst, err := o.class.New(ctx, o.act)
		o.inst = inst
		return err
	}}})
	// The constructor's writes commit with the first batch: its savepoint
	// is released, so a later failing event does not undo them. Concurrent
	// classes have no batches: commit now.
	if err == nil && o.class.Concurrent {
		err = o.db.Commit()
	}
	if err != nil || o.inst == nil {
		o.discard(true)
		if errcode.Of(err) == errcode.Internal || errcode.Of(err) == errcode.HandlerError {
			err = &errcode.Error{Code: errcode.InitFailed, Message: fmt.Sprintf("construct %s: %v", o.class.Name, err), Err: err}
		}
		return fmt.Errorf("activate %s/%s: %w", o.class.Name, o.id, err)
	}
	o.rt.hooks.Activated(o.ref())
	return nil
}

// openDB opens the object's database if it is not open.
func (o *object) openDB() error {
	if o.db != nil {
		return nil
	}
	db, err := o.rt.cfg.Store.Open(o.class.Name, o.id)
	if err != nil {
		return fmt.Errorf("activate %s/%s: %w", o.class.Name, o.id, err)
	}
	db.SetSerial(!o.class.Concurrent)
	o.db = db
	o.rt.openDBs.Add(1)
	return nil
}

// reset discards the live instance after a failure: the next event
// constructs a new one.
func (o *object) reset() {
	if o.inst != nil {
		o.rt.hooks.Left(o.ref(), "reset")
	}
	o.discard(false)
}

// discard drops the live instance and rolls back what is not committed;
// closeDB also closes its database.
func (o *object) discard(closeDB bool) {
	if o.act != nil {
		o.act.dead.Store(true)
	}
	o.inst, o.act = nil, nil
	if o.db == nil {
		return
	}
	o.db.Rollback()
	o.effects = nil
	if closeDB {
		o.closeDB()
	}
}

// closeDB closes the object's database.
func (o *object) closeDB() {
	if o.db == nil {
		return
	}
	if err := o.db.Close(); err != nil {
		o.rt.log.Warn("close database", append(o.log(), "err", err)...)
	}
	o.db = nil
	o.rt.openDBs.Add(-1)
}
