// Package store holds each object's private storage: one SQLite database file
// per object, opened beneath the data directory through an [os.Root].
//
// Data path: the runtime opens an object's [DB] on activation. All reads and
// writes of the object's events run on that one connection. The runtime marks
// event boundaries ([DB.BeginEvent], [DB.EndEvent]); the writes of consecutive
// events are coalesced into one SQLite transaction, each event inside its own
// savepoint, and [DB.Commit] makes the batch durable (fsync'd with the default
// synchronous=FULL) before the runtime releases any of the events' output.
// A failed event rolls back to its savepoint; a failed commit rolls back the
// whole batch and the DB must be closed.
//
// Files: <data>/objects/<class>/<id[0:2]>/<id>.db and its -wal file. SQLite
// reaches them only through this package's VFS, which resolves every name
// beneath the store's os.Root (a name can never escape the data directory),
// keeps the WAL file between activations, and takes an exclusive flock so that
// two processes can never open the same object. The connection runs in
// locking_mode=EXCLUSIVE, so WAL needs no shared-memory file: an open object
// costs two file descriptors, an evicted one none.
//
// Commit-then-acknowledge is kept honest on failing disks: when an fsync of the
// WAL fails, the VFS cuts the WAL back to its last synced length, so a commit
// that was reported as failed can never reappear after a restart (the
// "fsyncgate" problem). Tests inject such failures with [Faults].
//
// Cluster mode (later) plugs in below the same DB type: a committed batch is a
// unit that can be shipped to a replicated log, and a fenced owner's commit
// fails like a failed fsync.
//
// This package imports nothing from HTTP or NATS.
package store
