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
// Files: <data>/objects/<class>/<id[0:2]>/<id>.db and its -wal file. Roost's
// own file operations (creating a database from the template, directories,
// deletion) go through an [os.Root] of the data directory. SQLite (the
// mattn/go-sqlite3 driver: native SQLite, whose memory is reused across
// connections, which keeps an activation near 50 µs) opens files through
// Roost's VFS shim (vfs_shim.c), a thin layer over SQLite's unix VFS that
// refuses any path that is not beneath the data directory once symlinks are
// resolved. The connection runs in locking_mode=EXCLUSIVE, so WAL needs no
// shared-memory file: an open object costs two file descriptors, an evicted
// one none, and a second process cannot open an object that one holds.
//
// Commit-then-acknowledge is kept honest on failing disks: when an fsync of
// the WAL fails, the shim cuts the WAL back to its last synced length, so a
// commit that was reported as failed can never reappear after a restart (the
// "fsyncgate" problem). Tests inject such failures with [Faults].
//
// Cluster mode plugs in through [Config.Log]: the log is the truth and the
// local file a cache. After each commit, and before it is acknowledged, the
// frames the commit appended to the object's WAL are read back (through the
// os.Root, following SQLite's own rules for which frames are committed: see
// waltail.go) and handed to [Log.Append] as page images ([Changes]); a new
// object's first Changes carry the template it was made from, and a commit
// that leaves the object without files says so. A failed Append (a fenced
// owner, an unreachable log) fails the commit like a failed fsync, and the DB
// is broken. [Store.Open] first lets [Log.Restore] rebuild the object's file
// through a [Restorer], which writes page images into a new file and moves it
// into place. [DB.Image] copies a whole database for snapshots. With no Log
// nothing of this runs.
//
// This package imports nothing from HTTP or NATS.
package store
