package sockets

import (
	"sync"
	"time"
)

// warnings rate-limits the hub's warnings about clients: under an attack
// every stalled socket would log one.
type warnings struct {
	mu      sync.Mutex // guards the fields below
	last    time.Time
	dropped int
}

// warnEvery is the least time between two warnings of the hub.
const warnEvery = time.Second

// warn logs a warning unless one was logged less than warnEvery ago; the
// next one logged says how many were left out.
func (h *Hub) warn(msg string, args ...any) {
	w := &h.warnings
	w.mu.Lock()
	now := time.Now()
	if now.Sub(w.last) < warnEvery {
		w.dropped++
		w.mu.Unlock()
		return
	}
	dropped := w.dropped
	w.last, w.dropped = now, 0
	w.mu.Unlock()
	if dropped > 0 {
		args = append(args, "warnings_left_out", dropped)
	}
	h.cfg.Logger.Warn(msg, args...)
}
