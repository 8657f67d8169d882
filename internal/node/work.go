package node

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// work counts what the node is doing: events queued or running (the
// runtime's count), wakes being fired (the scheduler's), and the work of
// components built on the node between their events (Busy: a workflow's
// run). Each child is counted before its parent ends (an alarm's event
// before its fire ends, a run before the alarm's event that started it
// ends), so the count reaches zero only when the node has nothing left to
// do until the clock moves or a client acts. Tests wait for that (WaitIdle)
// instead of sleeping.
type work struct {
	n atomic.Int64

	mu   sync.Mutex
	idle chan struct{} // closed and replaced each time n reaches zero while someone waits; nil when no one does
}

func newWork() *work { return &work{} }

// add changes the count; the runtime and the scheduler call it.
func (w *work) add(delta int) {
	if w.n.Add(int64(delta)) != 0 {
		return
	}
	w.mu.Lock()
	if w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
	w.mu.Unlock()
}

// wait returns a channel closed the next time the count reaches zero, and
// the count now.
func (w *work) wait() (<-chan struct{}, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.idle == nil {
		w.idle = make(chan struct{})
	}
	return w.idle, w.n.Load()
}

// Busy counts work of a component built on the node that runs outside its
// events (a workflow's run between its steps) until done is called, once.
func (n *Node) Busy() (done func()) {
	n.work.add(1)
	var once sync.Once
	return func() { once.Do(func() { n.work.add(-1) }) }
}

// WaitIdle blocks until the node is idle, or ctx ends: no event queued or
// running, no wake due or being fired, no Busy work. A node that is idle
// stays so until its clock moves or a client sends something.
func (n *Node) WaitIdle(ctx context.Context) error {
	for {
		ch, busy := n.work.wait()
		if busy == 0 && !n.sched.Due() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait until idle (%d in flight, wakes due: %t): %w", n.work.n.Load(), n.sched.Due(), ctx.Err())
		}
	}
}
