package workflow

import (
	"testing"
	"time"
)

// WaitResumed waits until the engine's startup checks ended: until then
// they may read any instance, which runs events of it.
func WaitResumed(e *Engine) { e.resuming.Wait() }

// Waiters is the number of Waits waiting for the instance's end.
func Waiters(e *Engine, workflow, id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.waiters[runKey{workflow, id}])
}

// HoldFor makes a step's event wait up to d for the function's end (see
// held) until the test ends, so that a busy machine cannot make a test of
// the held end miss it. It returns d.
func HoldFor(t testing.TB, d time.Duration) time.Duration {
	old := holdMax
	holdMax = d
	t.Cleanup(func() { holdMax = old })
	return d
}
