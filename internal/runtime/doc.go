// Package runtime activates objects and delivers their events.
//
// Each active object has one mailbox goroutine, owned by the [Runtime]. The
// first event for an (class, ID) creates the object and its goroutine; the
// goroutine opens the object's database, runs the class constructor once, and
// then takes events from the mailbox in order, one at a time. Events that are
// queued together form a batch: each runs inside its own savepoint, and one
// commit makes the whole batch durable before any of its events is answered
// (the output gate). Under load this coalesces many events into one fsync
// without weakening the per-event guarantee: every answered event is durable,
// and a failed event's writes are rolled back alone.
//
// An object with no event for the idle timeout, or the least recently used
// one when too many databases are open, leaves memory: its goroutine closes
// the database and ends. A new activation of the same object waits until the
// old one has closed its file, so there is never more than one live instance.
//
// A handler that panics or fails resets the instance: it is discarded (its
// in-memory state is gone) and constructed again for the next event. A failed
// commit does the same and also closes the database.
//
// Classes may opt in to concurrent events; they then run in their own
// goroutines (owned by the object) and each storage write outside a
// transaction commits on its own.
//
// The package imports nothing from HTTP or NATS. The node (internal/node)
// drives it through [Runtime.Deliver] and hears of it through the [Hooks]
// and the Busy count that [Config] declares; the root package never sees
// it.
package runtime
