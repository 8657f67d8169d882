package workflow

// WaitResumed waits until the engine's startup checks ended: until then
// they may read any instance, which runs events of it.
func WaitResumed(e *Engine) { e.resuming.Wait() }
