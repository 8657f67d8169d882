package workflow

import (
	"context"
	"sync"
	"time"
)

// holdMax bounds how long a step's event stays open for the function's
// next move (see held): code between steps that runs longer lets the step
// commit alone. A variable for tests on slow machines.
var holdMax = 20 * time.Millisecond

// held is the commit of a step that succeeded, kept back after the
// function got the step's result, so that the function's end, if it comes
// next, commits with the step's record: one commit fewer per instance,
// which is a sync fewer with SyncFull. For a hosted instance it is the
// step's event, kept open; for a standalone one, a goroutine that waits
// before it runs the event of the step's outcome (see run.attemptOut).
// Until its next primitive the function only runs code that replays the
// same way and that no one sees (whatever must not happen twice belongs in
// a step), so the step's record may commit after that code ran; the
// function's next primitive, or its end, waits for the commit (release),
// and the run's snapshot shows the step only once it is durable.
type held struct {
	mu   sync.Mutex
	open bool         // the event still waits for the function's move
	move chan *ending // buffered: the move; nil lets the event commit alone
	done chan struct{}
	err  error // the event's error, read after done is closed
}

// ending is the function's end, recorded in a held event.
type ending struct {
	status string
	out    []byte
	err    error
}

func newHeld() *held {
	return &held{open: true, move: make(chan *ending, 1), done: make(chan struct{})}
}

// wait runs in the held event: it returns the function's end if it came
// within holdMax, or nil when the step commits alone.
func (h *held) wait(ctx context.Context) *ending {
	t := time.NewTimer(holdMax)
	defer t.Stop()
	select {
	case e := <-h.move:
		return e
	case <-t.C:
	case <-ctx.Done():
	}
	h.mu.Lock()
	moved := !h.open // the move was sent before the timer won
	h.open = false
	h.mu.Unlock()
	if moved {
		return <-h.move
	}
	return nil
}

// end hands the function's end (nil: none, commit alone) to the held
// event if it still waits, and waits for the event's commit. It reports
// whether the event took e.
func (h *held) end(e *ending) (took bool, err error) {
	h.mu.Lock()
	if h.open {
		h.open = false
		h.move <- e
		took = e != nil
	}
	h.mu.Unlock()
	<-h.done
	return took && h.err == nil, h.err
}

// release lets the run's held event commit, if there is one, and waits for
// it; a failed commit ends the run, as a failed event does.
func (r *run) release() {
	h := r.held
	if h == nil {
		return
	}
	r.held = nil
	if _, err := h.end(nil); err != nil {
		r.abort(err)
	}
}

// finishHeld records the function's end in the run's held event, if there
// is one and it still waits. It reports whether it is done with the end:
// recorded, or lost with a held event that failed (the run then ends, as
// after a failed event); if not, the held event committed the step alone
// and the end needs an event of its own.
func (r *run) finishHeld(e *ending) (done bool, err error) {
	h := r.held
	if h == nil {
		return false, nil
	}
	r.held = nil
	took, err := h.end(e)
	if err != nil {
		r.fault("cannot record the last step", err)
	}
	return took || err != nil, err
}
