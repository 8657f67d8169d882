// Package clock is where Roost's engine gets the time.
//
// It is a leaf of Roost's architecture: it imports only the standard library,
// and the store, runtime, hub, gateway and cluster take a [Clock] instead of
// calling time.Now, time.AfterFunc or time.NewTimer. Production wires in
// [Real]; tests wire in a [Virtual] clock, which moves only when the test
// calls [Virtual.Advance] or [Virtual.Set], so alarms, idle eviction, retry
// backoff and workflow sleeps can be tested without sleeping and without
// flakes.
//
// Timers follow the Go 1.23 semantics of time.Timer on both clocks: once Stop
// or Reset returns, the timer's channel holds no stale value.
package clock
