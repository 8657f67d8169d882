package scheduler

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/ids"
)

// Key names an object.
type Key struct {
	Class string
	ID    ids.ID
}

// Config configures a [Scheduler].
type Config struct {
	// Clock is the time source. Defaults to the real clock.
	Clock clock.Clock
	// Fire wakes the object; it blocks until the wake is handled. The
	// scheduler forgets the object's entry before it calls Fire: whoever
	// handles the wake sets the next one. Required.
	Fire func(ctx context.Context, k Key)
	// Workers bounds the Fire calls running at once. Defaults to 32.
	Workers int
	// Busy hears of Fire calls starting (+1) and ending (-1). Optional.
	Busy func(delta int)
}

// Scheduler is the wake queue. Its methods are safe for concurrent use.
type Scheduler struct {
	cfg       Config
	kick      chan struct{}  // 1-buffered: "look at the queue"
	wg        sync.WaitGroup // the loop and the Fire calls
	closeOnce sync.Once

	mu      sync.Mutex         // guards the fields below
	cancel  context.CancelFunc // ends the loop and the Fire calls' context; set by Start, nil before
	queue   wakeQueue
	entries map[Key]*entry
	// running holds the keys whose Fire runs, with the time set for them
	// meanwhile (zero: none): it is queued when Fire returns, so one key is
	// never fired twice at once.
	running map[Key]time.Time
	closed  bool
}

type entry struct {
	key   Key
	at    time.Time
	index int // in queue
}

// New returns a scheduler, which starts no goroutine: Start runs it. Times
// set before Start are kept, and fired once it runs.
func New(cfg Config) *Scheduler {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Workers < 1 {
		cfg.Workers = 32
	}
	if cfg.Busy == nil {
		cfg.Busy = func(int) {}
	}
	return &Scheduler{cfg: cfg, kick: make(chan struct{}, 1),
		entries: map[Key]*entry{}, running: map[Key]time.Time{}}
}

// Start runs the loop that fires due entries, until Close. It does nothing
// on a scheduler started or closed already.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil || s.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background()) // not a caller's: the loop outlives Start
	s.cancel = cancel
	s.wg.Go(func() { s.loop(ctx) })
}

// Set makes at the time to wake k, replacing what was set. A zero at
// removes k.
func (s *Scheduler) Set(k Key, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setLocked(k, at)
}

func (s *Scheduler) setLocked(k Key, at time.Time) {
	if _, ok := s.running[k]; ok {
		s.running[k] = at
		return
	}
	if at.IsZero() {
		s.removeLocked(k)
		return
	}
	if e, ok := s.entries[k]; ok {
		if e.at.Equal(at) {
			return
		}
		e.at = at
		heap.Fix(&s.queue, e.index)
	} else {
		e := &entry{key: k, at: at}
		s.entries[k] = e
		heap.Push(&s.queue, e)
	}
	if s.queue[0].key == k {
		s.signal()
	}
}

// SetEarlier sets at as the time to wake k unless an earlier one is set.
func (s *Scheduler) SetEarlier(k Key, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.atLocked(k); !ok || at.Before(cur) {
		s.setLocked(k, at)
	}
}

// Remove forgets k.
func (s *Scheduler) Remove(k Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.running[k]; ok {
		s.running[k] = time.Time{}
		return
	}
	s.removeLocked(k)
}

func (s *Scheduler) removeLocked(k Key) {
	if e, ok := s.entries[k]; ok {
		heap.Remove(&s.queue, e.index)
		delete(s.entries, k)
	}
}

// At returns the time set for k.
func (s *Scheduler) At(k Key) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.atLocked(k)
}

func (s *Scheduler) atLocked(k Key) (time.Time, bool) {
	if at, ok := s.running[k]; ok {
		return at, !at.IsZero()
	}
	e, ok := s.entries[k]
	if !ok {
		return time.Time{}, false
	}
	return e.at, true
}

// Len returns the number of objects waiting to be woken, not counting those
// being woken now.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Due reports whether an entry is due and waits for a worker: its Fire has
// not started yet. After Close nothing is.
func (s *Scheduler) Due() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && len(s.queue) > 0 && !s.queue[0].at.After(s.cfg.Clock.Now())
}

// Close stops firing, cancels the context of running Fire calls and waits
// for them and the loop to return. It works on a scheduler never started,
// and is safe to call more than once: later calls return once the first
// did.
func (s *Scheduler) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		cancel := s.cancel
		s.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		s.wg.Wait()
	})
}

func (s *Scheduler) signal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// loop fires due entries and sleeps until the next one is due or the queue
// changes.
func (s *Scheduler) loop(ctx context.Context) {
	var timer clock.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		next, ok := s.fireDue(ctx)
		var timerC <-chan time.Time
		if ok {
			if timer == nil {
				timer = s.cfg.Clock.NewTimer(time.Hour)
			}
			if !s.arm(timer, next) {
				continue // due already
			}
			timerC = timer.C()
		}
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-timerC:
		}
	}
}

// armSlack is how far the clock may move between reading it and arming a
// timer without the timer being armed again: the real clock always moves a
// little, a virtual one jumps.
const armSlack = time.Millisecond

// arm sets timer to fire at next, and reports false if next has come
// already. A timer takes a duration from now, and a (virtual) clock may jump
// between reading it and arming the timer: then it is armed again.
func (s *Scheduler) arm(timer clock.Timer, next time.Time) bool {
	for {
		now := s.cfg.Clock.Now()
		if !now.Before(next) {
			return false
		}
		timer.Reset(next.Sub(now))
		if s.cfg.Clock.Now().Sub(now) < armSlack {
			return true
		}
	}
}

// fireDue starts Fire for every due entry, as far as workers are free, and
// returns when the next one is due (false: wait for a kick). The Fire calls
// get ctx.
func (s *Scheduler) fireDue(ctx context.Context) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Clock.Now()
	for len(s.queue) > 0 && len(s.running) < s.cfg.Workers && !s.closed {
		e := s.queue[0]
		if e.at.After(now) {
			return e.at, true
		}
		heap.Pop(&s.queue)
		delete(s.entries, e.key)
		s.running[e.key] = time.Time{}
		s.cfg.Busy(1)
		s.wg.Go(func() { s.fire(ctx, e.key) })
	}
	return time.Time{}, false
}

func (s *Scheduler) fire(ctx context.Context, k Key) {
	s.cfg.Fire(ctx, k)
	s.mu.Lock()
	at := s.running[k]
	delete(s.running, k)
	s.setLocked(k, at)
	s.mu.Unlock()
	s.signal()
	s.cfg.Busy(-1)
}

// wakeQueue is a min-heap of entries by time.
type wakeQueue []*entry

func (q wakeQueue) Len() int           { return len(q) }
func (q wakeQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q wakeQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *wakeQueue) Push(x any) {
	e := x.(*entry)
	e.index = len(*q)
	*q = append(*q, e)
}
func (q *wakeQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}
