package runtime

import (
	"context"
	"sync/atomic"
)

// startConcurrent runs each event of a concurrent class in a goroutine of its
// own, owned by the object (run waits for them before it closes the file).
// Storage writes outside transactions commit on their own, so an event's
// writes are durable before it returns, and its reply needs no batch commit.
func (o *object) startConcurrent(batch []*event) {
	if o.reset.Load() || o.resetLater.Load() {
		o.inflight.Wait()
		o.resetLater.Store(false)
		o.discard(false)
	}
	for _, ev := range batch {
		if !ev.start() {
			continue
		}
		if err := o.ensureInstance(ev.ctx); err != nil {
			ev.reply(err)
			continue
		}
		o.running.Add(1)
		o.inflight.Add(1)
		go o.runConcurrent(ev, o.inst)
	}
}

func (o *object) runConcurrent(ev *event, inst any) {
	defer o.inflight.Done()
	ctx, cancel := o.eventContext(ev.ctx)
	defer cancel()
	err := o.call(ctx, func(ctx context.Context, _ any) error { return ev.fn(ctx, inst) })
	if err != nil {
		o.resetLater.Store(true)
	}
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
