// Package catalog is the node's inventory of objects and the durable index of
// when each object must be woken for its timers.
//
// It sits beside internal/store: the store holds each object's own SQLite
// file, and the catalog holds one row per object in a single SQLite file of
// its own (<data>/catalog.db): class, ID, the name it was addressed by,
// creation time, last activity, size, and the next time it must be woken with
// its number of pending timers. The admin API lists objects from it, and the
// alarm scheduler loads every pending wake from it at startup instead of
// opening every object.
//
// Two kinds of writes go through one writer goroutine:
//
//   - [Catalog.Update] and [Catalog.Remove] are lazy. They merge into an
//     in-memory map under a mutex and never wait for I/O, so the node can
//     call Update after every commit of every object. The writer writes them
//     within [Config.FlushInterval], on [Catalog.Flush] and on
//     [Catalog.Close]. A crash loses at most that interval of lazy changes;
//     [Catalog.Reconcile] repairs the inventory at startup.
//   - [Catalog.SetWake] is durable. The node's wake index calls it (from the
//     store's commit, through store.TimerIndex) before an object commits an
//     alarm or timer earlier than the catalog knows of, so that no crash can
//     leave a timer that nothing will wake. The writer wakes at once and
//     drains everything pending, from every caller, into one transaction: one
//     fsync serves every concurrent SetWake (group commit).
//
// A lazy change may only move a wake later (or remove it): if it is lost in a
// crash, the object is woken early, finds nothing due, and records its real
// next wake again. Moving a wake earlier must go through SetWake.
//
// Times are stored as Unix milliseconds and IDs as 64-character lowercase
// hex. [Catalog.List] pages with keyset cursors over indexes that match every
// sort order, so any page costs the same at row 10 and at row 100,000.
//
// It imports the standard library, the SQLite driver and the leaves ids,
// errcode and clock; nothing from HTTP or NATS.
package catalog
