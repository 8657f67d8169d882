package workflow

// WaitResumed waits until the engine's startup checks ended: until then
// they may read any instance, which runs events of it.
func WaitResumed(e *Engine) { e.resuming.Wait() }

// Waiters is the number of Waits waiting for the instance's end.
func Waiters(e *Engine, workflow, id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.waiters[runKey{workflow, id}])
}
