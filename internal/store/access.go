package store

import (
	"context"
	"strconv"
)

// How the calls of a DB reach its connection: the lock each call takes
// (unless the caller's transaction holds it), the batch and savepoint a
// write opens, and nested transactions.

// writable prepares the DB for a write: the file exists, a batch transaction
// and the event's savepoint are open. It returns a function that finishes the
// write: outside events and transactions, each write commits on its own.
func (db *DB) writable(ctx context.Context) (done func(error) error, err error) {
	if db.closed {
		return nil, ErrClosed
	}
	if db.broken != nil {
		return nil, db.broken
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := db.ensureFile(); err != nil {
		return nil, err
	}
	wasDeleted := db.deleted
	db.deleted = false // a write after DeleteAll keeps the file
	auto := !db.inTx
	if !db.inTx {
		if err := db.execLocked("BEGIN IMMEDIATE"); err != nil {
			return nil, err
		}
		db.inTx = true
	}
	if db.inEvent && !db.eventSP {
		if err := db.execLocked("SAVEPOINT ev"); err != nil {
			return nil, err
		}
		db.eventSP, db.evDeleted = true, wasDeleted
	}
	auto = auto && !db.inEvent && db.depth == 0
	return func(opErr error) error {
		db.checkBroken(opErr)
		if !auto {
			return opErr
		}
		if opErr != nil {
			db.rollbackLocked()
			return opErr
		}
		return db.commitLocked()
	}, nil
}

// readable prepares the DB for a read. It reports false when the object has
// no file yet: reads then see an empty store.
func (db *DB) readable(ctx context.Context) (bool, error) {
	if db.closed {
		return false, ErrClosed
	}
	if db.broken != nil {
		return false, db.broken
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	return db.conn != nil, nil
}

// checkBroken notices that SQLite rolled back the whole transaction after an
// error (it does on a full disk or an I/O error).
func (db *DB) checkBroken(err error) {
	if err != nil && db.inTx && db.conn != nil && db.conn.AutoCommit() {
		db.broken = db.wrap("write", err)
		db.inTx, db.eventSP, db.depth = false, false, 0
	}
}

// Transaction runs fn in a nested transaction: if fn returns an error or
// panics, the writes it made are rolled back and the event goes on. The
// writes become durable with the event's commit (or, outside an event, when
// fn returns). Calls made with the ctx passed to fn run inside it; calls from
// other goroutines wait until it ends.
//
// DON'T, in a class with concurrent events: use the outer ctx inside fn. The
// call waits for the transaction that is waiting for it, forever.
func (db *DB) Transaction(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	switch {
	case inTx(ctx, db):
		return db.nested(ctx, fn, true) // the outer transaction holds the lock
	case db.serial:
		// Events take turns: nothing else runs while fn does, so the lock is
		// taken only around each call, and the outer ctx works inside fn too.
		return db.nested(ctx, fn, false)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.nested(context.WithValue(ctx, txKey{}, db), fn, true)
}

// SetSerial tells the DB that its object's events take turns (the default
// for classes): see [DB.Transaction].
func (db *DB) SetSerial(serial bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.serial = serial
}

type txKey struct{}

func inTx(ctx context.Context, db *DB) bool { return ctx.Value(txKey{}) == db }

// lock takes the DB's lock unless ctx runs inside one of its transactions,
// which already holds it.
func (db *DB) lock(ctx context.Context) func() {
	if inTx(ctx, db) {
		return func() {}
	}
	db.mu.Lock()
	return db.mu.Unlock
}

// nested runs fn in a savepoint. held says the caller holds mu for the
// whole call; otherwise nested takes it around its own steps.
func (db *DB) nested(ctx context.Context, fn func(ctx context.Context) error, held bool) (err error) {
	lock, unlock := db.mu.Lock, db.mu.Unlock
	if held {
		lock, unlock = func() {}, func() {}
	}
	lock()
	wasDeleted := db.deleted
	done, err := db.writable(ctx)
	if err != nil {
		unlock()
		return err
	}
	db.depth++
	sp := "tx" + strconv.Itoa(db.depth)
	if err := db.execLocked("SAVEPOINT " + sp); err != nil {
		db.depth--
		err = done(err)
		unlock()
		return err
	}
	unlock()
	defer func() {
		p := recover()
		lock()
		defer unlock()
		db.depth--
		if err == nil && p == nil {
			err = db.execLocked("RELEASE " + sp)
		} else if db.broken == nil && db.inTx {
			_ = db.execLocked("ROLLBACK TO " + sp)
			db.timers = 0 // the transaction may have created the timers table
			_ = db.execLocked("RELEASE " + sp)
			db.deleted = wasDeleted // a rolled-back DeleteAll deletes no files
		}
		err = done(err)
		if p != nil {
			panic(p)
		}
	}()
	return fn(ctx)
}
