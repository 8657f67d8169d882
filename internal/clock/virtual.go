package clock

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Virtual is a Clock whose time moves only when [Virtual.Advance] or
// [Virtual.Set] is called. It is safe for concurrent use.
//
// Timers fire during Advance and Set, in deadline order; timers with the same
// deadline fire in the order they were armed. A timer whose deadline is not
// after Now when it is armed (d ≤ 0) fires at the next Advance, even
// Advance(0), never inside AfterFunc, NewTimer or Reset.
type Virtual struct {
	advancing sync.Mutex // held through Advance and Set, so one runs at a time

	mu      sync.Mutex // guards the fields below and every virtualTimer's when, seq and index
	now     time.Time
	queue   timerQueue    // armed timers, earliest deadline first
	seq     uint64        // arming counter, orders timers with equal deadlines
	changed chan struct{} // closed and replaced when a timer is armed
}

var _ Clock = (*Virtual)(nil)

// NewVirtual returns a Virtual clock that reads start until it is advanced.
func NewVirtual(start time.Time) *Virtual {
	return &Virtual{now: start, changed: make(chan struct{})}
}

// Now returns the clock's current time. While a timer fires during Advance,
// Now is that timer's deadline.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// AfterFunc arms a timer that calls f once the clock has advanced by d. f runs
// in the goroutine that calls Advance or Set, without the clock's lock held,
// so it may call Now, AfterFunc, NewTimer, Stop and Reset.
//
// DON'T call Advance or Set from f: it deadlocks.
func (v *Virtual) AfterFunc(d time.Duration, f func()) Timer {
	t := &virtualTimer{v: v, f: f, index: -1}
	t.Reset(d)
	return t
}

// NewTimer arms a timer that sends the fire time on its channel once the clock
// has advanced by d. The channel has a buffer of one and the send never
// blocks, so a value nobody receives is dropped by the next fire, Stop or
// Reset.
func (v *Virtual) NewTimer(d time.Duration) Timer {
	t := &virtualTimer{v: v, c: make(chan time.Time, 1), index: -1}
	t.Reset(d)
	return t
}

// Advance moves the clock forward by d, firing every timer whose deadline it
// reaches, one at a time in deadline order, with Now set to each deadline
// while that timer fires. Timers armed by those callbacks fire too if their
// deadline falls within the advance. Advance returns when the clock reads the
// old time plus d and no due timer is left.
func (v *Virtual) Advance(d time.Duration) {
	v.advancing.Lock()
	defer v.advancing.Unlock()
	v.mu.Lock()
	target := v.now.Add(d)
	v.mu.Unlock()
	v.advanceTo(target)
}

// Set moves the clock to t, firing timers as [Virtual.Advance] does. If t is
// before Now, the clock steps back and only timers already due fire.
func (v *Virtual) Set(t time.Time) {
	v.advancing.Lock()
	defer v.advancing.Unlock()
	v.advanceTo(t)
}

// advanceTo fires due timers up to target, then sets the clock to target.
// The caller holds v.advancing.
func (v *Virtual) advanceTo(target time.Time) {
	v.mu.Lock()
	if target.Before(v.now) {
		v.now = target
	}
	for {
		f := v.fireNext(target)
		if f == nil {
			break
		}
		v.mu.Unlock()
		f()
		v.mu.Lock()
	}
	v.now = target
	v.mu.Unlock()
}

// fireNext fires the earliest timer due by target: it sends on a channel
// timer and returns nop, or returns an AfterFunc timer's callback for the
// caller to run without the lock. It returns nil when no timer is due. The
// caller holds v.mu.
func (v *Virtual) fireNext(target time.Time) func() {
	if len(v.queue) == 0 || v.queue[0].when.After(target) {
		return nil
	}
	t := heap.Pop(&v.queue).(*virtualTimer)
	if t.when.After(v.now) {
		v.now = t.when
	}
	if t.f != nil {
		return t.f
	}
	select {
	case t.c <- v.now:
	default: // an earlier value is still unread; drop this one like time.Timer
	}
	return nop
}

func nop() {}

// Pending returns the number of armed timers: those created or reset and not
// yet fired or stopped.
func (v *Virtual) Pending() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.queue)
}

// WaitForTimers blocks until at least n timers are armed, or ctx is done. Tests
// use it to know that the code under test has armed its timers before they
// call Advance.
func (v *Virtual) WaitForTimers(ctx context.Context, n int) error {
	for {
		v.mu.Lock()
		armed, changed := len(v.queue), v.changed
		v.mu.Unlock()
		if armed >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// virtualTimer is a Timer of a Virtual clock. Exactly one of f and c is set.
type virtualTimer struct {
	v *Virtual
	f func()
	c chan time.Time

	// Guarded by v.mu.
	when  time.Time
	seq   uint64
	index int // position in v.queue, or -1 when not armed
}

func (t *virtualTimer) C() <-chan time.Time { return t.c }

// Stop disarms the timer and drops any fire time its channel holds unread. It
// reports whether the timer was armed or held an unread value.
func (t *virtualTimer) Stop() bool {
	t.v.mu.Lock()
	defer t.v.mu.Unlock()
	return t.disarm()
}

// Reset rearms the timer to fire at Now plus d, dropping any unread fire
// time. It reports what Stop would have reported.
func (t *virtualTimer) Reset(d time.Duration) bool {
	v := t.v
	v.mu.Lock()
	defer v.mu.Unlock()
	was := t.disarm()
	v.seq++
	t.when, t.seq = v.now.Add(d), v.seq
	heap.Push(&v.queue, t)
	close(v.changed)
	v.changed = make(chan struct{})
	return was
}

// disarm removes t from the queue and drains its channel. The caller holds
// t.v.mu.
func (t *virtualTimer) disarm() bool {
	was := t.index >= 0
	if was {
		heap.Remove(&t.v.queue, t.index)
	}
	select {
	case <-t.c: // a nil channel never receives, so AfterFunc timers skip this
		was = true
	default:
	}
	return was
}

// timerQueue is a heap of armed timers ordered by deadline, then by arming
// order. It maintains each timer's index.
type timerQueue []*virtualTimer

func (q timerQueue) Len() int { return len(q) }

func (q timerQueue) Less(i, j int) bool {
	if !q[i].when.Equal(q[j].when) {
		return q[i].when.Before(q[j].when)
	}
	return q[i].seq < q[j].seq
}

func (q timerQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}

func (q *timerQueue) Push(x any) {
	t := x.(*virtualTimer)
	t.index = len(*q)
	*q = append(*q, t)
}

func (q *timerQueue) Pop() any {
	old := *q
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	t.index = -1
	return t
}
