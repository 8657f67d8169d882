package roost

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/roost-dev/roost/internal/catalog"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/scheduler"
	"github.com/roost-dev/roost/internal/store"
)

// RetryPolicy is how failed alarm and timer runs are retried: after
// Initial, then twice as long each time up to MaxDelay, at most MaxRetries
// times; then the fire is dropped (and logged, and counted in
// roost_timer_failures_total).
type RetryPolicy struct {
	// Initial is the delay before the first retry. Default 2s.
	Initial time.Duration
	// MaxDelay caps the delay between retries. Default 1h.
	MaxDelay time.Duration
	// MaxRetries is the number of retries after the first run. Default 6;
	// negative means none.
	MaxRetries int
}

func (p *RetryPolicy) fill() {
	if p.Initial <= 0 {
		p.Initial = 2 * time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = time.Hour
	}
	if p.MaxRetries == 0 {
		p.MaxRetries = 6
	}
	p.MaxRetries = max(p.MaxRetries, 0)
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

// wakes is the node-level index of when objects must be woken for their
// timers: the durable copy in the catalog, the in-memory queue in the
// scheduler. It implements store.TimerIndex.
type wakes struct {
	cat   *catalog.Catalog
	sched *scheduler.Scheduler

	mu sync.Mutex
	// indexed is, per object, a time at or before its earliest timer that
	// the catalog holds durably (or will, for times only ever raised).
	indexed map[catalog.Key]time.Time
}

// Prepare makes an earlier wake durable before the commit that needs it.
// The wake of an object whose storage the commit creates is only queued:
// after a crash, the startup check finds the object missing from the
// catalog and reads its timers (see [catalog.Catalog.SetWakeOfNew]).
func (w *wakes) Prepare(class string, id ids.ID, next time.Time, created bool) error {
	if next.IsZero() {
		return nil
	}
	k := catalog.Key{Class: class, ID: id}
	w.mu.Lock()
	at, ok := w.indexed[k]
	w.mu.Unlock()
	if ok && !at.After(next) {
		return nil
	}
	set := w.cat.SetWake
	if created {
		set = w.cat.SetWakeOfNew
	}
	if err := set(context.Background(), k, next); err != nil {
		return err
	}
	w.mu.Lock()
	w.indexed[k] = next
	w.mu.Unlock()
	return nil
}

// Committed records an object's timers after a commit changed them.
func (w *wakes) Committed(class string, id ids.ID, next time.Time, count int) {
	k := catalog.Key{Class: class, ID: id}
	w.mu.Lock()
	if next.IsZero() {
		delete(w.indexed, k)
	} else {
		w.indexed[k] = next
	}
	w.mu.Unlock()
	w.cat.Update(catalog.Update{Key: k, Wake: &catalog.Wake{At: next, Timers: count}})
	w.sched.Set(scheduler.Key{Class: class, ID: id}, next)
}

// load fills the index from the catalog at startup.
func (w *wakes) load(ctx context.Context) (int, error) {
	n := 0
	err := w.cat.Wakes(ctx, func(k catalog.Key, at time.Time) error {
		w.indexed[k] = at
		w.sched.Set(scheduler.Key{Class: k.Class, ID: k.ID}, at)
		n++
		return nil
	})
	return n, err
}

// maxFiresPerCommit bounds the timers of one object fired together.
const maxFiresPerCommit = 64

// fire wakes an object for its due timers. Each timer runs as an event of
// its own: its removal (cron: its move to the next slot) commits with the
// handler's writes, and a failing handler rolls back alone. When several
// timers are due at once, their events are queued together, so the runtime
// commits them as one batch (one fsync). A failed run is recorded by an
// event of its own, which schedules the retry.
func (a *App) fire(ctx context.Context, k scheduler.Key) {
	r := &fireRound{failed: map[string]bool{}}
	first := a.fireOne(ctx, k, r)
	results := []fireResult{first}
	if more := min(first.due-1, maxFiresPerCommit-1); first.fired && first.err == nil && more > 0 {
		rest := make([]fireResult, more)
		var wg sync.WaitGroup
		for i := range rest {
			wg.Go(func() { rest[i] = a.fireOne(ctx, k, r) })
		}
		wg.Wait()
		results = append(results, rest...)
	}
	for _, res := range results {
		a.settleFire(ctx, k, res)
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
func (a *App) fireOne(ctx context.Context, k scheduler.Key, r *fireRound) (res fireResult) {
	res.err = a.rt.Deliver(ctx, &runtime.Event{Class: k.Class, ID: k.ID, Kind: runtime.KindTimer,
		Probe: func(ctx context.Context, db *store.DB) (bool, error) {
			res.ran = a.cfg.Clock.Now()
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
			next, n, err := db.NextTimer(ctx)
			if err == nil {
				a.wakes.Committed(k.Class, k.ID, next, n)
			}
			return false, err
		},
		Fn: func(ctx context.Context, inst any, db *store.DB) error {
			res.fired = true
			err := a.runTimer(ctx, inst, db, res.timer, res.ran)
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
func (a *App) settleFire(ctx context.Context, k scheduler.Key, res fireResult) {
	if ctx.Err() != nil || !res.fired && res.err == nil {
		return // shutting down (woken again after the restart), or nothing was due
	}
	kind := timerKind(res.timer)
	err := res.err
	switch {
	case err == nil:
		a.metrics.TimerRun(k.Class, kind, "ok")
		return
	case errors.Is(err, runtime.ErrUnknownClass):
		a.park(k)
		return
	case transient(err), !res.fired && res.timer.Kind == "":
		// Not the handler's failure (or no due timer to count it against):
		// wake again soon, without counting an attempt.
		delay := transientRetry
		if !transient(err) {
			delay = a.cfg.TimerRetry.Initial
		}
		a.log.Warn("timer delivery failed; retrying", "class", k.Class, "id", k.ID.String(), "err", err)
		a.sched.SetEarlier(k, a.cfg.Clock.Now().Add(delay))
		return
	}
	// The handler failed, or the instance could not be made for it (its
	// constructor failed): a failed run of the due timer.
	a.metrics.TimerRun(k.Class, kind, "error")
	a.timerFailed(ctx, k, res.timer, res.ran, err)
}

// park keeps the wake of an object whose class is not registered (yet:
// timers due at startup may fire before the app's Register calls) until its
// class is registered.
func (a *App) park(k scheduler.Key) {
	a.parkMu.Lock()
	defer a.parkMu.Unlock()
	if _, ok := a.rt.Class(k.Class); ok {
		a.sched.Set(k, a.cfg.Clock.Now()) // registered meanwhile
		return
	}
	if len(a.parked[k.Class]) == 0 {
		a.log.Warn("timers of an unregistered class wait until it is registered", "class", k.Class)
	}
	a.parked[k.Class] = append(a.parked[k.Class], k)
}

// unpark wakes the objects of a class that was just registered.
func (a *App) unpark(class string) {
	a.parkMu.Lock()
	keys := a.parked[class]
	delete(a.parked, class)
	a.parkMu.Unlock()
	now := a.cfg.Clock.Now()
	for _, k := range keys {
		a.sched.SetEarlier(k, now)
	}
}

// runTimer takes the due timer off (or, for cron, moves it to its next
// slot) and runs the handler, in one event: both commit or neither does.
func (a *App) runTimer(ctx context.Context, inst any, db *store.DB, t store.Timer, now time.Time) error {
	missed := 0
	if t.Kind == TimerCron {
		next, n, err := cronNext(t.Spec, t.Scheduled, now)
		if err != nil {
			return err
		}
		missed = n
		if err := db.SetTimer(ctx, store.Timer{Name: t.Name, Kind: t.Kind, Due: next, Scheduled: next, Spec: t.Spec, Payload: t.Payload}); err != nil {
			return err
		}
	} else if _, err := db.DeleteTimer(ctx, t.Name); err != nil {
		return err
	}
	if t.Name == "" {
		h, ok := inst.(AlarmHandler)
		if !ok {
			return errcode.New(errcode.NotImplemented, "the object has an alarm but no Alarm method")
		}
		return handlerError(h.Alarm(ctx, AlarmInfo{RetryCount: t.Attempt, IsRetry: t.Attempt > 0, Scheduled: t.Scheduled}))
	}
	h, ok := inst.(TimerHandler)
	if !ok {
		return errcode.New(errcode.NotImplemented, "the object has a timer but no Timer method")
	}
	return handlerError(h.Timer(ctx, TimerFire{Name: t.Name, Kind: t.Kind, FireID: fireID(t.Name, t.Scheduled),
		Scheduled: t.Scheduled, Payload: t.Payload, Attempt: t.Attempt, Missed: missed}))
}

// timerFailed records a failed run of the fire due, which started at ran:
// the next retry, counted from ran, or, once the retries are spent, its
// removal (cron: its next slot).
func (a *App) timerFailed(ctx context.Context, k scheduler.Key, due store.Timer, ran time.Time, cause error) {
	kind := timerKind(due)
	err := a.rt.Deliver(ctx, &runtime.Event{Class: k.Class, ID: k.ID, Kind: runtime.KindTimer, Storage: true,
		Fn: func(ctx context.Context, _ any, db *store.DB) error {
			t, ok, err := db.Timer(ctx, due.Name)
			if err != nil || !ok || t.Kind != due.Kind || !t.Scheduled.Equal(due.Scheduled) {
				return err // changed meanwhile: the new setting stands
			}
			now := a.cfg.Clock.Now()
			log := a.log.With("class", k.Class, "id", k.ID.String(), "timer", fireID(t.Name, t.Scheduled), "attempt", t.Attempt+1)
			if t.Attempt < a.cfg.TimerRetry.MaxRetries {
				t.Attempt++
				t.Due = ran.Add(a.cfg.TimerRetry.delay(t.Attempt))
				log.Warn("timer handler failed; will retry", "at", t.Due, "err", cause)
				a.metrics.TimerRetry(k.Class, kind)
				return db.SetTimer(ctx, t)
			}
			log.Error("timer handler failed; retries spent, fire dropped", "err", cause)
			a.metrics.TimerGaveUp(k.Class, kind)
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
		a.log.Warn("record timer failure", "class", k.Class, "id", k.ID.String(), "err", err)
		a.sched.SetEarlier(k, a.cfg.Clock.Now().Add(transientRetry))
	}
}

// cronNext returns the first slot of spec after now, and how many slots
// after scheduled were skipped before it (the missed ones that one
// catch-up fire stands for).
func cronNext(spec string, scheduled, now time.Time) (time.Time, int, error) {
	sched, err := cronParser.Parse(spec)
	if err != nil {
		return time.Time{}, 0, errcode.New(errcode.BadRequest, "stored cron schedule %q: %v", spec, err)
	}
	missed := 0
	s := sched.Next(scheduled)
	for ; !s.IsZero() && !s.After(now) && missed < maxMissedCount; s = sched.Next(s) {
		missed++
	}
	next := sched.Next(now)
	if next.IsZero() {
		return time.Time{}, 0, errcode.New(errcode.BadRequest, "cron schedule %q never fires again", spec)
	}
	return next, missed, nil
}

// maxMissedCount bounds the counting of missed cron slots.
const maxMissedCount = 1_000_000

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
	case errcode.Overloaded, errcode.ShuttingDown, errcode.ObjectReset, errcode.StorageFull, errcode.StorageFailed, errcode.Canceled:
		return true
	}
	return false
}
