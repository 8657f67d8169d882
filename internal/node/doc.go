// Package node is the engine of one Roost node: it opens the data directory
// and ties together the packages that each hold one part of it. The root
// package roost is the vocabulary users program against (App, Register,
// State, Storage, Stub, …) and wraps a [Node]; this package is where the
// parts meet, where their crash invariants are kept, and where cluster mode
// plugs in (a node that owns shards, forwards calls and ships its commits).
//
//	roost (vocabulary) ──▶ node ──▶ runtime ──▶ store
//	                          ├──▶ catalog, scheduler (the wake index)
//	                          ├──▶ sockets (hibernatable WebSockets)
//	                          └──▶ gateway, admin, metrics (HTTP surfaces)
//
// It reaches the user's code only through what the root package hands it:
// each [Class] (constructor, RPC dispatch) and the [Handlers] that find the
// handler interfaces in an instance. It never imports the root package.
//
// # One request
//
// GET /counter/apples/increment arrives at the gateway, which parses the
// route, reads the body (bounded) and calls [Node.Fetch] with the object's
// [Ref] (class "counter", ID = ids.FromName("counter", "apples")). Fetch
// delivers an event to the runtime: the object's mailbox goroutine (started
// on the first event: it opens the object's SQLite file in the store and
// runs the class's constructor with an [Activation]) runs the event inside
// a savepoint of the batch transaction, calling Handlers.ServeHTTP, which
// finds the instance's Fetch or ServeHTTP. The handler writes into a
// recorder. The runtime commits the batch (one fsync for every event queued
// with it), the hooks record the object's activity in the catalog, and only
// then does Fetch turn the recorder into the response the gateway writes
// out: the output gate. A failed event rolls back its savepoint and resets
// the instance; a failed commit fails every event of the batch.
//
// # One alarm
//
// A handler calls Storage.SetAlarm → [Activation.SetAlarm]: a row in the
// object's own timers table, part of the event's batch. Before that batch
// commits, the store asks the wake index (wakes, a store.TimerIndex)
// to Prepare the object's earliest timer: if it is earlier than what the
// catalog holds, the catalog's SetWake writes it durably first (group
// committed with other objects' wakes), so no crash can leave a timer
// that nothing wakes. After the commit, Committed records it lazily and
// sets it in the scheduler's in-memory queue. When the time comes (on the
// node's clock), the scheduler calls fire: a fire round delivers one timer
// event per due timer. Its probe reads the due timers without constructing
// the object (a wake that finds nothing due only corrects the index); the
// event removes the timer (cron: moves it to its next slot) and calls
// Handlers.Fire in the same transaction, so a fire commits with the
// handler's writes or not at all. A handler that fails is retried with
// backoff by an event of its own (timerFailed), counted from the failed
// run; a fire for a class not registered yet is parked until it is. After
// a crash, Open reconciles the catalog with the files on disk (reconcile)
// and loads every wake back into the scheduler.
//
// # Lifecycle
//
// [Open] locks the data directory (the store does, before anything reads
// it), opens the catalog, reconciles it if the last close was not clean,
// and starts the scheduler and the socket hub. [Node.Drain] tells clients
// that wait (sockets closed with 1001, [Node.Draining] closed for long
// polls); [Node.Close] drains, then closes the hub, the scheduler, the
// runtime (events finish and commit, bounded by its context, then are
// canceled and still joined), the catalog and the store, and marks the
// directory clean. The node counts its work in flight (events, fires, and
// [Node.Busy] work of components built on it), so tests wait for
// quiescence with [Node.WaitIdle] instead of sleeping.
package node
