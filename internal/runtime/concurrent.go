package runtime

import (
	"sync/atomic"

	"github.com/roost-dev/roost/internal/store"
)

// startConcurrent runs each event of a concurrent class in a goroutine of its
// own, owned by the object (run waits for them before it closes the file).
// Storage writes outside transactions commit on their own, so an event's
// writes are durable before it returns, and its reply needs no batch commit.
func (o *object) startConcurrent(batch []*event) {
	if o.mustReset.Load() || o.resetLater.Load() {
		o.inflight.Wait()
		o.resetLater.Store(false)
		o.reset()
	}
	for _, ev := range batch {
		if !ev.start() {
			continue
		}
		if run, err := o.probe(ev); err != nil || !run {
			ev.reply(err)
			continue
		}
		if err := o.ensure(ev); err != nil {
			ev.reply(err)
			continue
		}
		o.running.Add(1)
		o.inflight.Add(1)
		go o.runConcurrent(ev, o.inst, o.db)
	}
}

func (o *object) runConcurrent(ev *event, inst any, db *store.DB) {
	defer o.inflight.Done()
	ctx, cancel := o.eventContext(ev.ctx)
	defer cancel()
	ctx, fx := withEffects(ctx)
	err := o.protect(func() error { return ev.Fn(ctx, inst, db) })
	if err != nil {
		o.resetLater.Store(true)
	} else {
		runEffects(fx.fns) // its writes committed as they went
	}
	o.rt.hooks.AfterBatch(o.ref(), db, false, 0, nil)
	ev.reply(err)
	if o.running.Add(-1) == 0 {
		o.signal() // the object may now go idle
	}
}

// busyConcurrent reports whether concurrent events are still running.
func (o *object) busyConcurrent() bool { return o.running.Load() > 0 }

// concurrentState is the bookkeeping of concurrent classes.
type concurrentState struct {
	running    atomic.Int64
	resetLater atomic.Bool
}
