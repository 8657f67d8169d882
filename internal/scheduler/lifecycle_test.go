package scheduler

import (
	"context"
	"testing"

	"github.com/roost-dev/roost/internal/clock"
	"go.uber.org/goleak"
)

func TestScheduler_CloseWithoutStartTwiceAndStartAfterClose(t *testing.T) {
	before := goleak.IgnoreCurrent()
	f := &fires{ch: make(chan Key, 10)}
	s := New(Config{Clock: clock.NewVirtual(epoch), Fire: f.fire})
	s.Set(key("a"), epoch) // due, but nothing runs it
	s.Close()
	s.Close()
	s.Start() // after Close: starts nothing
	goleak.VerifyNone(t, before)
	f.none(t)
}

func TestScheduler_StartTwiceThenCloseJoinsEverything(t *testing.T) {
	before := goleak.IgnoreCurrent()
	f := &fires{ch: make(chan Key, 10), block: make(chan struct{})}
	s := New(Config{Clock: clock.NewVirtual(epoch), Fire: f.fire})
	s.Start()
	s.Start()
	s.Set(key("a"), epoch)
	f.next(t) // its Fire now blocks until Close cancels it
	s.Close()
	goleak.VerifyNone(t, before)
	s.Close()
}

// Start and Close from different goroutines at once: the loop either never
// starts or is joined by Close (the race detector checks the WaitGroup).
func TestScheduler_StartConcurrentWithClose(t *testing.T) {
	before := goleak.IgnoreCurrent()
	for range 100 {
		s := New(Config{Clock: clock.NewVirtual(epoch), Fire: func(context.Context, Key) {}})
		started := make(chan struct{})
		go func() {
			defer close(started)
			s.Start()
		}()
		s.Close()
		<-started
	}
	goleak.VerifyNone(t, before)
}
