// Package clock is where Roost's engine gets the time.
//
// It is a leaf of Roost's architecture: it imports only the standard library,
// and the node, the runtime, the scheduler and the catalog take a [Clock]
// (the app's, which workflows read too) instead of calling time.Now,
// time.AfterFunc or time.NewTimer for what users observe: alarms and timers,
// idle eviction, BlockConcurrencyWhile's timeout, the times an object
// records. (Timeouts of network I/O, such as WebSocket writes, stay on real
// time: a peer's socket does not follow a test's clock.) Production wires in
// [Real]; tests wire in a [Virtual] clock, which moves only when the test
// calls [Virtual.Advance] or [Virtual.Set], so alarms, idle eviction, retry
// backoff and workflow sleeps can be tested without sleeping and without
// flakes.
//
// Timers follow the Go 1.23 semantics of time.Timer on both clocks: once Stop
// or Reset returns, the timer's channel holds no stale value.
package clock
