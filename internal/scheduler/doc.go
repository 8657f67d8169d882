// Package scheduler wakes objects at their due times: an in-memory queue of
// (object, time) pairs, ordered by time, that calls a fire function for each
// pair whose time has come, a bounded number at a time.
//
// It keeps one entry per object: the earliest time the object must be woken.
// It holds nothing durable. Durable timers live in the objects' own storage
// (internal/store) and their next wakes in the node catalog
// (internal/catalog); the scheduler is rebuilt from the catalog at startup,
// and whoever handles a wake sets the object's next one. The root package
// wires it: its fire function delivers the object's due alarm and timers as
// events through the runtime.
//
// Lifecycle: [New] builds a scheduler and starts nothing; [Scheduler.Start]
// starts its loop; [Scheduler.Close] stops firing, cancels the context of
// the Fire calls that run, and waits for them and the loop. Time comes from
// the configured [clock.Clock], so tests drive it with a virtual clock.
//
// It imports the leaves clock and ids only.
package scheduler
