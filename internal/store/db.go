package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime/cgo"
	"strconv"
	"sync"

	sqlite3 "github.com/mattn/go-sqlite3"
	"golang.org/x/sys/unix"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
)

// ErrClosed is returned by a DB that was closed, and by an activation whose
// instance was discarded: the object's storage was used after its instance
// was reset or evicted (for example from a goroutine that outlived its
// event). Its code is object_reset.
var ErrClosed = &errcode.Error{Code: errcode.ObjectReset, Message: "object storage is closed: the instance was reset or evicted; its state and storage handle are gone"}

// DB is one object's database. Its methods are safe for concurrent use; the
// runtime still delivers one event at a time, and a class that opts in to
// concurrent events gets each write committed on its own unless it uses
// [DB.Transaction].
type DB struct {
	s     *Store
	class string
	id    ids.ID
	path  string

	mu sync.Mutex // guards every field below, and the connection
	// conn is nil until the file exists and is opened.
	conn *sqlite3.SQLiteConn
	// mode says whose SQL runs: the authorizer's rules depend on it.
	mode sqlMode
	// auth is the authorizer's handle to this DB, deleted on disconnect.
	auth cgo.Handle
	// stmts caches Roost's own statements. The driver's statement cache
	// stays off (dial sets no _stmt_cache_size): it is keyed by the SQL text
	// alone, so it could hand user SQL a statement that Roost prepared
	// without the authorizer's checks.
	stmts map[string]*sqlite3.SQLiteStmt
	// rows are the open result sets, closed at the end of the event.
	rows map[*Rows]struct{}
	// inTx: a batch transaction is open. inEvent: an event is running and
	// eventSP: its savepoint is open. depth counts explicit transactions.
	inTx, inEvent, eventSP bool
	depth                  int
	// deleted: DeleteAll ran in the batch and nothing was written after it.
	// evDeleted is deleted as it was when the event's savepoint opened: a
	// rolled-back event restores it.
	deleted, evDeleted bool
	// serial is set for objects whose events take turns (see Transaction).
	serial bool
	// timersChanged: the batch wrote the timers table. timers caches
	// whether the file has that table (0 unknown, 1 no, 2 yes).
	timersChanged bool
	timers        int8
	// created: ensureFile created the file (see TakeCreated).
	created bool
	// fresh: ensureFile created the file and no commit has made anything
	// durable in it since. A fresh file that a batch (or Close) finds empty
	// is removed: reading through SQL needs a database, and reads must not
	// create storage.
	fresh bool
	// unsynced holds, with SyncFull, the directory of the file ensureFile
	// created until a commit made its entries durable.
	unsynced *newFiles
	// base: the file was created from the template since the last batch
	// shipped to the Log, whose next Changes carry the template as Base.
	base bool
	// tail follows the WAL when the store has a Log.
	tail walTail
	// broken is set when SQLite rolled the batch back on its own (full disk,
	// I/O error), or when a batch that committed locally did not reach the
	// Log: the batch can only fail.
	broken error
	closed bool
}

func newDB(s *Store, class string, id ids.ID) *DB {
	return &DB{s: s, class: class, id: id, path: Path(class, id),
		stmts: map[string]*sqlite3.SQLiteStmt{}, rows: map[*Rows]struct{}{}}
}

// ID returns the object's ID.
func (db *DB) ID() ids.ID { return db.id }

// connect opens the existing file. Caller holds mu (or owns db exclusively).
func (db *DB) connect() error {
	conn, err := db.s.dial(db.path, false)
	if err != nil {
		return db.wrap("open", err)
	}
	if err := db.configure(conn); err != nil {
		conn.Close()
		db.dropAuth()
		return db.wrap("open", err)
	}
	db.conn = conn
	if db.s.cfg.Log != nil {
		if err := db.startTailLocked(); err != nil {
			return db.wrap("open", errors.Join(err, db.disconnectLocked()))
		}
	}
	return nil
}

// sqliteFcntlPersistWAL is SQLITE_FCNTL_PERSIST_WAL: keep the WAL file when
// the connection closes, so the next activation does not recreate it.
const sqliteFcntlPersistWAL = 10

// configure sets the engine's safety settings. User SQL cannot change them:
// the authorizer refuses the pragmas, and ATTACH is impossible (limit 0).
func (db *DB) configure(conn *sqlite3.SQLiteConn) error {
	cfg := db.s.cfg
	pages := cfg.MaxDatabaseSize / 4096
	// The file is in WAL mode from its template, and dial opened it with
	// locking_mode=EXCLUSIVE; max_page_count reads the file, which takes the
	// exclusive lock now rather than in the first event.
	_, err := conn.Exec(`PRAGMA synchronous=`+string(cfg.Synchronous)+
		`; PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF; PRAGMA cache_size=-1024`+
		`; PRAGMA journal_size_limit=4194304; PRAGMA max_page_count=`+strconv.FormatInt(pages, 10), nil)
	if err != nil {
		return err
	}
	if err := conn.SetFileControlInt("main", sqliteFcntlPersistWAL, 1); err != nil {
		return err
	}
	if db.auth, err = configureRaw(conn, db); err != nil {
		return err
	}
	conn.SetLimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
	conn.SetLimit(sqlite3.SQLITE_LIMIT_LENGTH, cfg.MaxValueSize+cfg.MaxKeySize+1024)
	return nil
}

// ensureFile creates and opens the database file if it does not exist yet.
func (db *DB) ensureFile() error {
	if db.conn != nil {
		return nil
	}
	nf, err := db.s.create(db.path)
	if err != nil {
		return db.wrap("create", err)
	}
	db.created, db.fresh, db.unsynced, db.base = true, true, nf, true
	return db.connect()
}

// TakeCreated reports, once, that the object's file was created since the
// last call.
func (db *DB) TakeCreated() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	c := db.created
	db.created = false
	return c
}

// BeginEvent marks the start of an event: its writes, made through any
// method until EndEvent, succeed or fail together.
func (db *DB) BeginEvent(ctx context.Context) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return ErrClosed
	}
	db.inEvent, db.eventSP = true, false
	return nil
}

// EndEvent ends the event: ok keeps its writes in the batch, !ok rolls them
// back. Result sets the event left open are closed.
func (db *DB) EndEvent(ok bool) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	for r := range db.rows {
		r.closeLocked()
	}
	db.inEvent = false
	if !db.eventSP {
		return db.broken
	}
	db.eventSP = false
	if ok {
		return db.execLocked("RELEASE ev")
	}
	if err := db.execLocked("ROLLBACK TO ev"); err != nil {
		return err
	}
	db.deleted = db.evDeleted // a rolled-back DeleteAll deletes no files
	db.timers = 0             // the event may have created the timers table
	return db.execLocked("RELEASE ev")
}

// Commit makes the writes of every event since the last commit durable. It
// returns nil at once when there is nothing to commit. After an error the
// writes are gone and the DB must be closed.
func (db *DB) Commit() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.commitLocked()
}

func (db *DB) commitLocked() error {
	if !db.inTx {
		return db.broken
	}
	db.inTx = false
	if db.broken != nil {
		db.rollbackLocked()
		return db.broken
	}
	if db.fresh && db.emptyLocked() {
		return db.dropFreshLocked()
	}
	notify, err := db.prepareTimersLocked()
	if err != nil {
		db.rollbackLocked()
		return err
	}
	// A new object's directory is synced beside the commit's own sync:
	// both must be durable before the commit is acknowledged, not one
	// before the other.
	var dirSynced chan error
	if nf := db.unsynced; nf != nil {
		dirSynced = make(chan error, 1)
		go func() { dirSynced <- nf.sync() }()
	}
	err = db.execLocked("COMMIT")
	if dirSynced != nil {
		derr := <-dirSynced
		if err != nil || derr != nil {
			// The new object's first commit failed, or its files might not
			// survive a power failure: its creation is undone.
			db.rollbackLocked()
			if err == nil {
				err = db.wrap("create", derr)
			}
			return db.uncreateLocked(err)
		}
		db.unsynced.close()
		db.unsynced = nil
	}
	if err != nil {
		db.rollbackLocked()
		return err
	}
	db.fresh = false
	removed := db.deleted && db.emptyLocked()
	db.deleted = false
	// A batch that did not reach the log changes no index: whatever it
	// wrote is undone, and Prepare already recorded an earlier wake it
	// needed (a wake too many is harmless, one too few is not). Clearing
	// the wake of its last timer there would lose the timers of the state
	// that stands.
	if err = db.shipLocked(removed); err != nil {
		return err
	}
	notify()
	if !removed {
		return nil
	}
	return db.removeLocked()
}

// emptyLocked reports whether the object stores nothing: no KV pair and no
// table, index, view or trigger of its own. A Query after DeleteAll may have
// written (INSERT … RETURNING): then the file stays.
func (db *DB) emptyLocked() bool {
	if db.hasTimersLocked() && db.timerCountLocked() > 0 {
		return false
	}
	rows, err := db.conn.Query(`SELECT EXISTS (SELECT 1 FROM _roost_kv) OR EXISTS (SELECT 1 FROM sqlite_schema
		WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_roost\_%' ESCAPE '\')`, nil)
	if err != nil {
		return false
	}
	defer rows.Close()
	v := make([]driver.Value, 1)
	if rows.Next(v) != nil {
		return false
	}
	n, _ := v[0].(int64)
	return n == 0
}

// Rollback discards the writes of every event since the last commit.
func (db *DB) Rollback() {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.rollbackLocked()
}

func (db *DB) rollbackLocked() {
	if db.conn != nil && !db.conn.AutoCommit() {
		_, _ = db.conn.Exec("ROLLBACK", nil)
	}
	db.inTx, db.eventSP, db.deleted, db.depth = false, false, false, 0
	db.timersChanged, db.timers = false, 0 // the batch may have created the timers table
}

// Close rolls back what is not committed and closes the file. It is safe to
// call more than once.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.closeLocked()
}

func (db *DB) closeLocked() error {
	if db.closed {
		return nil
	}
	db.closed = true
	shrink := false // its WAL stays, for the checkpointer
	if c := db.s.ckpt; c != nil {
		defer func() {
			if shrink {
				c.left(db.path)
			} else {
				c.release(db.path)
			}
		}()
	}
	if db.fresh && db.conn != nil {
		db.rollbackLocked()
		if db.emptyLocked() {
			return db.dropFreshLocked()
		}
	}
	if db.unsynced != nil {
		db.unsynced.close() // nothing was committed: nothing needs it
		db.unsynced = nil
	}
	connected := db.conn != nil
	err := db.disconnectLocked()
	if db.base && db.s.cfg.Log != nil {
		// A replicated object's file that no commit shipped (its batch
		// rolled back): the log has no base for the pages a later
		// activation would ship, so the file goes, as if never created.
		return errors.Join(err, db.wrap("delete files", db.s.remove(db.path)))
	}
	shrink = connected && err == nil
	return err
}

// dropFreshLocked removes the file of a fresh object that its batch left
// empty, instead of committing: the object is as if never written, and its
// next write creates the file again. The catalog never hears of it.
func (db *DB) dropFreshLocked() error {
	db.fresh, db.created, db.base = false, false, false
	if nf := db.unsynced; nf != nil {
		db.unsynced = nil
		err := db.disconnectLocked()
		nf.undo()
		return err
	}
	return db.removeLocked()
}

// uncreateLocked removes the files of an object created in this batch whose
// first commit failed, and returns err: the DB is then as before the
// create, and its next write creates the files again.
func (db *DB) uncreateLocked(err error) error {
	nf := db.unsynced
	db.unsynced = nil
	cerr := db.disconnectLocked()
	nf.undo()
	db.created, db.base = false, false
	return errors.Join(err, cerr)
}

func (db *DB) disconnectLocked() error {
	for r := range db.rows {
		r.closeLocked()
	}
	db.rollbackLocked()
	if db.conn == nil {
		return nil
	}
	for _, st := range db.stmts {
		st.Close()
	}
	clear(db.stmts)
	db.timers = 0
	db.closeTail()
	err := db.conn.Close()
	db.conn = nil
	db.dropAuth()
	return db.wrap("close", err)
}

// dropAuth releases the authorizer's handle once the connection is closed.
func (db *DB) dropAuth() {
	if db.auth != 0 {
		db.auth.Delete()
		db.auth = 0
	}
}

// removeLocked deletes the object's files after DeleteAll committed: the
// object has no storage until it writes again.
func (db *DB) removeLocked() error {
	if err := db.disconnectLocked(); err != nil {
		return err
	}
	return db.wrap("delete files", db.s.remove(db.path))
}

// execLocked runs Roost's own statement.
func (db *DB) execLocked(sql string) error {
	_, err := db.conn.Exec(sql, nil)
	return db.wrap("exec", err)
}

// stmt returns a cached statement of Roost's own.
func (db *DB) stmt(sql string) (*sqlite3.SQLiteStmt, error) {
	if st, ok := db.stmts[sql]; ok {
		return st, nil
	}
	st, err := db.conn.Prepare(sql)
	if err != nil {
		return nil, db.wrap("prepare", err)
	}
	db.stmts[sql] = st.(*sqlite3.SQLiteStmt)
	return db.stmts[sql], nil
}

// wrap adds the object to an error and translates SQLite's codes into
// Roost's errors.
func (db *DB) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s/%s: %w", op, db.class, db.id.String()[:12], translate(err, db.s.cfg, db.atSizeLimit))
}

// atSizeLimit tells a full database (max_page_count) from a full disk: both
// are SQLITE_FULL. The page count cannot tell them apart (the failed
// statement is rolled back, and it may have needed many pages), so the disk
// is asked: it is full if a write failed with ENOSPC in a test (Faults), or
// if it has almost no space left.
func (db *DB) atSizeLimit() bool {
	if db.s.cfg.Faults.tookFull() {
		return false
	}
	free, ok := db.s.freeSpace()
	return ok && free >= diskFullSlack
}

// freeSpace returns the free space of the data directory's disk, and
// whether it could tell.
func (s *Store) freeSpace() (uint64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(s.abs, &st); err != nil {
		return 0, false
	}
	return st.Bavail * uint64(st.Bsize), true
}

// lowOnSpace reports whether the data directory's disk has less than
// diskFullSlack free.
func (s *Store) lowOnSpace() bool {
	free, ok := s.freeSpace()
	return ok && free < diskFullSlack
}

// diskFullSlack is the free space below which a SQLITE_FULL is taken for a
// full disk rather than the database size limit.
const diskFullSlack = 64 << 20

// Dirty reports whether writes wait for Commit (or a failure for it to
// report).
func (db *DB) Dirty() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.inTx || db.broken != nil
}
