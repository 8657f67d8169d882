package scheduler

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/ids"
)

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const waitTimeout = 30 * time.Second

func key(name string) Key { return Key{Class: "c", ID: ids.FromName("c", name)} }

// fires records Fire calls; block, if set, holds each call until closed.
type fires struct {
	ch    chan Key
	block chan struct{}
}

func (f *fires) fire(ctx context.Context, k Key) {
	f.ch <- k
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
		}
	}
}

func (f *fires) next(t *testing.T) Key {
	t.Helper()
	select {
	case k := <-f.ch:
		return k
	case <-time.After(waitTimeout):
		t.Fatal("no fire")
		return Key{}
	}
}

func (f *fires) none(t *testing.T) {
	t.Helper()
	select {
	case k := <-f.ch:
		t.Fatalf("unexpected fire of %v", k)
	case <-time.After(30 * time.Millisecond):
	}
}

func start(t *testing.T, workers int, f *fires) (*Scheduler, *clock.Virtual) {
	vc := clock.NewVirtual(epoch)
	s := New(Config{Clock: vc, Fire: f.fire, Workers: workers})
	s.Start()
	t.Cleanup(s.Close)
	return s, vc
}

func TestFiresInTimeOrder(t *testing.T) {
	f := &fires{ch: make(chan Key, 10)}
	s, vc := start(t, 1, f)
	s.Set(key("b"), epoch.Add(2*time.Second))
	s.Set(key("a"), epoch.Add(time.Second))
	s.Set(key("c"), epoch.Add(3*time.Second))
	s.Set(key("c"), epoch.Add(4*time.Second)) // replaces
	if s.Len() != 3 {
		t.Fatalf("Len = %d", s.Len())
	}
	vc.Advance(time.Second - time.Millisecond)
	f.none(t)
	vc.Advance(time.Millisecond)
	if k := f.next(t); k != key("a") {
		t.Fatalf("first fire %v", k)
	}
	vc.Advance(3 * time.Second)
	if k1, k2 := f.next(t), f.next(t); k1 != key("b") || k2 != key("c") {
		t.Fatalf("fires %v %v", k1, k2)
	}
	f.none(t)
}

func TestRemoveAndZero(t *testing.T) {
	f := &fires{ch: make(chan Key, 10)}
	s, vc := start(t, 1, f)
	s.Set(key("a"), epoch.Add(time.Second))
	s.Set(key("b"), epoch.Add(time.Second))
	s.Remove(key("a"))
	s.Set(key("b"), time.Time{})
	if at, ok := s.At(key("b")); ok {
		t.Fatalf("At(b) = %v after a zero Set", at)
	}
	vc.Advance(time.Hour)
	f.none(t)
}

func TestSetEarlierKeepsEarlier(t *testing.T) {
	f := &fires{ch: make(chan Key, 10)}
	s, _ := start(t, 1, f)
	s.Set(key("a"), epoch.Add(time.Minute))
	s.SetEarlier(key("a"), epoch.Add(time.Hour))
	if at, _ := s.At(key("a")); !at.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("At = %v", at)
	}
	s.SetEarlier(key("a"), epoch.Add(time.Second))
	if at, _ := s.At(key("a")); !at.Equal(epoch.Add(time.Second)) {
		t.Fatalf("At = %v", at)
	}
}

func TestKeyIsNeverFiredTwiceAtOnce(t *testing.T) {
	f := &fires{ch: make(chan Key, 10), block: make(chan struct{})}
	s, vc := start(t, 4, f)
	s.Set(key("a"), epoch)
	f.next(t)
	// Set while its Fire runs: it takes effect when Fire returns.
	s.Set(key("a"), epoch)
	vc.Advance(time.Second)
	f.none(t)
	if at, ok := s.At(key("a")); !ok || !at.Equal(epoch) {
		t.Fatalf("At during Fire = %v, %v", at, ok)
	}
	close(f.block)
	f.next(t)
}

func TestWorkersBoundConcurrentFires(t *testing.T) {
	const workers = 3
	var running, peak atomic.Int64
	release := make(chan struct{})
	var fired sync.WaitGroup
	fired.Add(20)
	vc := clock.NewVirtual(epoch)
	s := New(Config{Clock: vc, Workers: workers, Fire: func(ctx context.Context, k Key) {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		running.Add(-1)
		fired.Done()
	}})
	s.Start()
	defer s.Close()
	for i := range 20 {
		s.Set(key(string(rune('a'+i))), epoch)
	}
	deadline := time.Now().Add(waitTimeout)
	for running.Load() < workers && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	fired.Wait()
	if p := peak.Load(); p != workers {
		t.Fatalf("peak concurrent fires %d, want %d", p, workers)
	}
}

func TestCloseCancelsRunningFires(t *testing.T) {
	f := &fires{ch: make(chan Key, 10), block: make(chan struct{})}
	vc := clock.NewVirtual(epoch)
	s := New(Config{Clock: vc, Fire: f.fire})
	s.Start()
	s.Set(key("a"), epoch)
	f.next(t)
	s.Close() // returns only because the blocked Fire sees its context end
	s.Set(key("b"), epoch)
	f.none(t)
}

// On the real clock, whose reading moves on between any two calls, a
// future wake is armed once and fires (it once spun re-arming instead).
func TestFiresOnTheRealClock(t *testing.T) {
	f := &fires{ch: make(chan Key, 10)}
	s := New(Config{Clock: clock.Real(), Fire: f.fire, Workers: 1})
	s.Start()
	t.Cleanup(s.Close)
	s.Set(key("a"), time.Now().Add(20*time.Millisecond))
	if k := f.next(t); k != key("a") {
		t.Fatalf("fire %v", k)
	}
}
