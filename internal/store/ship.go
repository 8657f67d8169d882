package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Shipping committed batches to the Log (cluster mode). Every write that
// commits goes through one of: commitLocked (events, transactions, concurrent
// classes' writes, timers, DeleteAll), the admin SQL statement's COMMIT, the
// admin import (a backup into the object's connection, which SQLite writes to
// the WAL as one transaction), and the admin Remove (no commit: the files
// go). Each one calls shipLocked or shipRemovedLocked after it succeeded
// locally and before it returns.

// shipLocked hands what the transaction that just committed wrote to the
// Log, if the store has one. removed: the commit leaves the object without
// storage (its files are removed next). A failure breaks the DB.
func (db *DB) shipLocked(removed bool) error {
	log := db.s.cfg.Log
	if log == nil {
		return nil
	}
	if removed {
		return db.appendLocked(&Changes{Removed: true})
	}
	bp := walBufs.Get().(*[]byte)
	defer putWALBuf(bp)
	ch, err := db.captureLocked(bp)
	if err != nil {
		return db.failShipLocked(fmt.Errorf("read the committed frames: %w", err))
	}
	if ch.Size == 0 {
		return nil // the transaction wrote nothing
	}
	return db.appendLocked(&ch)
}

// appendLocked calls the Log's Append.
func (db *DB) appendLocked(ch *Changes) error {
	if err := db.s.cfg.Log.Append(db.class, db.id, ch); err != nil {
		return db.failShipLocked(err)
	}
	db.base = false
	return nil
}

// failShipLocked breaks the DB after a batch committed locally but did not
// reach the log: nothing may read the unacknowledged batch, and the Log
// rebuilds the file at the next Open.
func (db *DB) failShipLocked(err error) error {
	err = fmt.Errorf("replicate %s/%s: %w", db.class, db.id.String()[:12], err)
	db.broken = err
	return errors.Join(err, db.disconnectLocked())
}

// captureLocked reads the frames of the transaction that just committed.
func (db *DB) captureLocked(bp *[]byte) (Changes, error) {
	if err := db.openTailLocked(); errors.Is(err, os.ErrNotExist) && !db.base {
		return Changes{}, nil // no WAL: the transaction wrote nothing
	} else if err != nil {
		return Changes{}, err
	}
	pages, size, buf, err := db.tail.next(*bp)
	*bp = buf
	ch := Changes{Pages: pages, Size: size}
	if err != nil || size == 0 || !db.base {
		return ch, err
	}
	// A new object: its frames apply to the file it was made from (the
	// template, which every spare is a copy of).
	t, err := db.s.tmpl()
	ch.Base = t.db
	return ch, err
}

// startTailLocked prepares a new connection for shipping. The WAL of an
// existing file may hold frames (the connection does not checkpoint when it
// closes): it is read to its end as SQLite's recovery reads it, so that the
// next commit's frames are read from there. A new object's WAL keeps the
// template's frames, shipped with its first commit.
func (db *DB) startTailLocked() error {
	db.closeTail()
	if db.base {
		return nil
	}
	if err := db.openTailLocked(); errors.Is(err, os.ErrNotExist) {
		return nil // no WAL yet: the first commit writes its header
	} else if err != nil {
		return err
	}
	bp := walBufs.Get().(*[]byte)
	defer putWALBuf(bp)
	_, _, buf, err := db.tail.next(*bp)
	*bp = buf
	return err
}

// openTailLocked opens the WAL file for reading.
func (db *DB) openTailLocked() error {
	if db.tail.f != nil {
		return nil
	}
	// SQLite holds no lock on the WAL file (only on the database, with
	// fcntl locks that closing any descriptor of the file would drop): this
	// descriptor can be opened and closed freely.
	f, err := db.s.root.Open(db.path + "-wal")
	if err != nil {
		return err
	}
	db.tail.f = f
	return nil
}

// checkpointTruncate copies the WAL into the database and empties it.
func checkpointTruncate(db *DB) error {
	busy, err := selectInt(db.conn, `PRAGMA wal_checkpoint(TRUNCATE)`)
	if err == nil && busy != 0 {
		err = errors.New("wal_checkpoint(TRUNCATE) was blocked")
	}
	return err
}

// closeTail forgets the WAL's state and closes its file.
func (db *DB) closeTail() {
	if db.tail.f != nil {
		db.tail.f.Close()
	}
	db.tail = walTail{}
}

// walBufs holds the buffers that commits' frames are read into.
var walBufs = sync.Pool{New: func() any { return new([]byte) }}

// putWALBuf returns a buffer to walBufs, unless a big transaction made it
// big.
func putWALBuf(bp *[]byte) {
	if cap(*bp) <= 1<<20 {
		*bp = (*bp)[:0]
		walBufs.Put(bp)
	}
}

// Image writes a consistent copy of the object's whole database file to w,
// for a snapshot of its log: the WAL is checkpointed into the file first.
// Call it between batches (a batch open fails with an error). An object
// without storage fails with [ErrNoStorage].
func (db *DB) Image(w io.Writer) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.adminErr("image", db.imageLocked(w))
}

func (db *DB) imageLocked(w io.Writer) error {
	if err := db.adminReady(); err != nil {
		return err
	}
	if db.conn == nil {
		return ErrNoStorage
	}
	if err := checkpointTruncate(db); err != nil {
		return err
	}
	// The file is read while no connection holds it: closing a descriptor
	// of it would drop the connection's locks (fcntl locks are the
	// process's).
	if err := db.disconnectLocked(); err != nil {
		return err
	}
	err := db.copyFileLocked(w)
	return errors.Join(err, db.connect())
}

// copyFileLocked copies the object's database file to w.
func (db *DB) copyFileLocked(w io.Writer) error {
	f, err := db.s.root.Open(db.path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
