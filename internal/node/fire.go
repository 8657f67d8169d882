package node

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/scheduler"
	"github.com/roost-dev/roost/internal/store"
)

// RetryPolicy is how failed alarm and timer runs are retried: after
// Initial, then twice as long each time up to MaxDelay, at most MaxRetries
// times; then the fire is dropped (and logged, and counted in
// roost_timer_failures_total). Its fields have the meaning and the layout
// of roost.RetryPolicy, which documents and fills their defaults.
type RetryPolicy struct {
	Initial    time.Duration
	MaxDelay   time.Duration
	MaxRetries int
}

// delay is the wait before retry number n (1-based).
func (p RetryPolicy) delay(n int) time.Duration {
	d := p.Initial
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay)
}

// transientRetry is how long a wake waits after a failure that is not the
// handler's (overload, shutdown, storage): it does not count as a retry.
const transientRetry = time.Second

// maxFiresPerCommit bounds the timers of one object fired together.
const maxFiresPerCommit = 64

// fire wakes an object for its due timers. Each timer runs as an event of
// its own: its removal (cron: its move to the next slot) commits with the
// handler's writes, and a failing handler rolls back alone. When several
// timers are due at once, their events are queued together, so the runtime
// commits them as one batch (one fsync). A failed run is recorded by an
// event of its own, which schedules the retry.
func (n *Node) fire(ctx context.Context, k scheduler.Key) {
	if n.cluster != nil {
		if _, ok := n.cluster.Local(k.Class, k.ID); !ok {
			if n.cluster.Keeps(k.Class, k.ID) {
				// A late renewal or a hand-over: the wake stays this
				// node's until the shard is fenced or handed over.
				n.sched.SetEarlier(k, n.cfg.Clock.Now().Add(transientRetry))
			}
			return // the shard's owner fires it (it loaded the shard's wakes)
		}
	}
	r := &fireRound{failed: map[string]bool{}}
	first := n.fireOne(ctx, k, r)
	results := []fireResult{first}
	if more := min(first.due-1, maxFiresPerCommit-1); first.fired && first.err == nil && more > 0 {
		rest := make([]fireResult, more)
		var wg sync.WaitGroup
		for i := range rest {
			wg.Go(func() { rest[i] = n.fireOne(ctx, k, r) })
		}
		wg.Wait()
		results = append(results, rest...)
	}
	for _, res := range results {
		n.settleFire(ctx, k, res)
	}
}

// fireRound is what the events of one wake share: the timers whose run
// failed, which the later events skip (their failure is recorded after the
// round). Only the object's turns touch it.
type fireRound struct {
	mu      sync.Mutex
	counted bool
	failed  map[string]bool
}

// fireResult is the outcome of one timer event.
type fireResult struct {
	timer store.Timer // the timer the probe found due (Kind "" if none)
	ran   time.Time   // when the probe ran
	fired bool        // the handler was called
	due   int         // timers due when the probe ran, this one included
	err   error
}

// fireOne runs the earliest due timer of the object that has not failed in
// this round, as one event.
func (n *Node) fireOne(ctx context.Context, k scheduler.Key, r *fireRound) (res fireResult) {
	res.err = n.rt.Deliver(ctx, &runtime.Event{Class: k.Class, ID: k.ID, Kind: runtime.KindTimer,
		Probe: func(ctx context.Context, db *store.DB) (bool, error) {
			res.ran = n.cfg.Clock.Now()
			r.mu.Lock()
			// The round's first probe reads how many are due; the others
			// only need the first that has not failed.
			limit := len(r.failed) + 1
			if !r.counted {
				r.counted, limit = true, maxFiresPerCommit
			}
			r.mu.Unlock()
			due, err := db.DueTimers(ctx, res.ran, limit)
			if err != nil {
				return false, err
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, t := range due {
				if !r.failed[t.Name] {
					res.timer = t
					break
				}
			}
			res.due = len(due) - len(r.failed)
			if res.timer.Kind != "" || len(due) > 0 {
				return res.timer.Kind != "", nil
			}
			// Nothing is due: the wake was early (an index entry older than
			// the object's last change). Put the right one in place, without
			// constructing the object.
			next, count, err := db.NextTimer(ctx)
			if err == nil {
				n.wakes.Found(k.Class, k.ID, next, count)
			}
			return false, err
		},
		Fn: func(ctx context.Context, inst any, db *store.DB) error {
			res.fired = true
			err := n.runTimer(ctx, inst, db, res.timer, res.ran)
			if err != nil {
				r.mu.Lock()
				r.failed[res.timer.Name] = true
				r.mu.Unlock()
			}
			return err
		}})
	if res.err != nil && ctx.Err() != nil {
		// Shutting down: the event may still run, so leave its result
		// alone. The catalog wakes the object after the restart.
		return fireResult{err: res.err}
	}
	return res
}

// settleFire counts a timer event's outcome and, if its handler failed,
// records the failure (the retry, or the end of the fire).
func (n *Node) settleFire(ctx context.Context, k scheduler.Key, res fireResult) {
	if ctx.Err() != nil || !res.fired && res.err == nil {
		return // shutting down (woken again after the restart), or nothing was due
	}
	kind := timerKind(res.timer)
	err := res.err
	switch {
	case err == nil:
		n.metrics.TimerRun(k.Class, kind, "ok")
		return
	case errors.Is(err, runtime.ErrUnknownClass):
		n.park(k)
		return
	case transient(err), !res.fired && res.timer.Kind == "":
		// Not the handler's failure (or no due timer to count it against):
		// wake again soon, without counting an attempt.
		delay := transientRetry
		if !transient(err) {
			delay = n.cfg.TimerRetry.Initial
		}
		n.log.Warn("timer delivery failed; retrying", "class", k.Class, "id", k.ID.String(), "err", err)
		n.sched.SetEarlier(k, n.cfg.Clock.Now().Add(delay))
		return
	}
	// The handler failed, or the instance could not be made for it (its
	// constructor failed): a failed run of the due timer.
	n.metrics.TimerRun(k.Class, kind, "error")
	n.timerFailed(ctx, k, res.timer, res.ran, err)
}

// park keeps the wake of an object whose class is not registered (yet:
// timers due at startup may fire before the app's Register calls) until its
// class is registered.
func (n *Node) park(k scheduler.Key) {
	n.parkMu.Lock()
	defer n.parkMu.Unlock()
	if _, ok := n.rt.Class(k.Class); ok {
		n.sched.Set(k, n.cfg.Clock.Now()) // registered meanwhile
		return
	}
	if len(n.parked[k.Class]) == 0 {
		n.log.Warn("timers of an unregistered class wait until it is registered", "class", k.Class)
	}
	n.parked[k.Class] = append(n.parked[k.Class], k)
}

// unpark wakes the objects of a class that was just registered.
func (n *Node) unpark(class string) {
	n.parkMu.Lock()
	keys := n.parked[class]
	delete(n.parked, class)
	n.parkMu.Unlock()
	now := n.cfg.Clock.Now()
	for _, k := range keys {
		n.sched.SetEarlier(k, now)
	}
}

// runTimer takes the due timer off (or, for cron, moves it to its next
// slot) and runs the handler, in one event: both commit or neither does.
func (n *Node) runTimer(ctx context.Context, inst any, db *store.DB, t store.Timer, now time.Time) error {
	missed := 0
	if t.Kind == TimerCron {
		next, skipped, err := cronNext(t.Spec, t.Scheduled, now)
		if err != nil {
			return err
		}
		missed = skipped
		if err := db.SetTimer(ctx, store.Timer{Name: t.Name, Kind: t.Kind, Due: next, Scheduled: next, Spec: t.Spec, Payload: t.Payload}); err != nil {
			return err
		}
	} else if _, err := db.DeleteTimer(ctx, t.Name); err != nil {
		return err
	}
	return HandlerError(n.handlers.Fire(ctx, inst, Fire{Name: t.Name, Kind: timerKind(t), FireID: fireID(t.Name, t.Scheduled),
		Scheduled: t.Scheduled, Payload: t.Payload, Attempt: t.Attempt, Missed: missed}))
}

// Fire is one fire of the alarm (Name "", Kind "alarm") or of a named timer
// or cron schedule, as the handlers get it.
type Fire struct {
	Name, Kind string
	// FireID is the same on every retry and re-delivery of this fire.
	FireID    string
	Scheduled time.Time
	Payload   []byte
	// Attempt counts the failed runs of this fire before this one.
	Attempt int
	// Missed counts the later cron slots this catch-up fire stands for.
	Missed int
}

// timerFailed records a failed run of the fire due, which started at ran:
// the next retry, counted from ran, or, once the retries are spent, its
// removal (cron: its next slot).
func (n *Node) timerFailed(ctx context.Context, k scheduler.Key, due store.Timer, ran time.Time, cause error) {
	kind := timerKind(due)
	err := n.rt.Deliver(ctx, &runtime.Event{Class: k.Class, ID: k.ID, Kind: runtime.KindTimer, Storage: true,
		Fn: func(ctx context.Context, _ any, db *store.DB) error {
			t, ok, err := db.Timer(ctx, due.Name)
			if err != nil || !ok || t.Kind != due.Kind || !t.Scheduled.Equal(due.Scheduled) {
				return err // changed meanwhile: the new setting stands
			}
			now := n.cfg.Clock.Now()
			log := n.log.With("class", k.Class, "id", k.ID.String(), "timer", fireID(t.Name, t.Scheduled), "attempt", t.Attempt+1)
			if t.Attempt < n.cfg.TimerRetry.MaxRetries {
				t.Attempt++
				t.Due = ran.Add(n.cfg.TimerRetry.delay(t.Attempt))
				log.Warn("timer handler failed; will retry", "at", t.Due, "err", cause)
				n.metrics.TimerRetry(k.Class, kind)
				return db.SetTimer(ctx, t)
			}
			log.Error("timer handler failed; retries spent, fire dropped", "err", cause)
			n.metrics.TimerGaveUp(k.Class, kind)
			if t.Kind != TimerCron {
				_, err := db.DeleteTimer(ctx, t.Name)
				return err
			}
			next, _, err := cronNext(t.Spec, t.Scheduled, now)
			if err != nil {
				return err
			}
			return db.SetTimer(ctx, store.Timer{Name: t.Name, Kind: t.Kind, Due: next, Scheduled: next, Spec: t.Spec, Payload: t.Payload})
		}})
	if err != nil && ctx.Err() == nil {
		n.log.Warn("record timer failure", "class", k.Class, "id", k.ID.String(), "err", err)
		n.sched.SetEarlier(k, n.cfg.Clock.Now().Add(transientRetry))
	}
}

func timerKind(t store.Timer) string {
	if t.Name == "" {
		return "alarm"
	}
	return t.Kind
}

// transient reports whether a wake failed for a reason that is not the
// handler's: it is retried soon without counting an attempt.
func transient(err error) bool {
	switch errcode.Of(err) {
	case errcode.Overloaded, errcode.ShuttingDown, errcode.ObjectReset, errcode.StorageFull, errcode.StorageFailed, errcode.Canceled,
		errcode.NotOwner: // the commit met a lost or lapsing lease: its next owner, or this node once renewed, fires it
		return true
	}
	return false
}
