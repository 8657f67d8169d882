package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/roost-dev/roost/internal/errcode"
)

// The admin operations (this file, import.go, adminsql.go) serve operators
// (`roost objects …`), not objects. The runtime calls them in the object's turn, between batches: they
// see and change only committed data, and each change is committed before it
// returns.

// ErrNoStorage is returned by an admin operation that needs the object's
// database when the object has none: it never wrote, or DeleteAll removed it.
var ErrNoStorage = &errcode.Error{Code: errcode.NotFound, Message: "object has no storage (it has never written, or DeleteAll removed its data)"}

// errBatchOpen is the runtime's mistake: it must commit pending events first.
var errBatchOpen = errors.New("a batch transaction is open: commit pending events before an admin operation")

// Exists reports whether the object has storage: a database file.
func (db *DB) Exists() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.conn != nil || !db.closed {
		// An open DB connects as soon as its file exists (Open, or the first
		// write), and disconnects when DeleteAll removes it.
		return db.conn != nil
	}
	ok, _ := db.s.Exists(db.class, db.id)
	return ok
}

// Size returns the size of the object's database in bytes (its pages,
// including those still in the WAL; the WAL file itself is not counted), or 0
// when the object has no storage.
func (db *DB) Size() (int64, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	err := db.adminReady()
	if err != nil || db.conn == nil {
		return 0, db.adminErr("size", err)
	}
	// A cached statement: the runtime asks after every batch that wrote,
	// and preparing this one costs more than running it.
	st, err := db.stmt(`SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`)
	if err != nil {
		return 0, db.adminErr("size", err)
	}
	rows, err := st.Query(nil)
	if err != nil {
		return 0, db.adminErr("size", err)
	}
	n, err := firstInt(rows)
	return n, db.adminErr("size", err)
}

// Export writes a consistent copy of the object's committed database,
// Roost's internal tables included, to a new file at path (any directory;
// an existing file is an error, never overwritten). The copy is in
// rollback-journal mode: one self-contained file that the sqlite3 shell
// opens. The object's files are only read. If the export fails, the new file
// is removed. An object without storage fails with [ErrNoStorage].
func (db *DB) Export(ctx context.Context, path string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.adminErr("export", db.exportLocked(ctx, path))
}

func (db *DB) exportLocked(ctx context.Context, path string) (err error) {
	if err := db.adminReady(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.conn == nil {
		return ErrNoStorage
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // SQLite opens an empty file as an empty database
	if err != nil {
		return err
	}
	f.Close()
	defer func() {
		if err != nil {
			removeSQLiteFiles(path)
		}
	}()
	dst, err := openPlain(path, false)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
	}()
	if err := backup(ctx, dst, db.conn); err != nil {
		return err
	}
	// The copy's header says WAL, like its source's: a reader would then
	// create a -wal file beside it. Switch it to a rollback journal.
	mode, err := selectText(dst, "PRAGMA journal_mode=DELETE")
	if err == nil && mode != "delete" {
		err = fmt.Errorf("switch the copy to journal_mode=DELETE: it stayed %q", mode)
	}
	return err
}

// Remove deletes the object's files at once, without writing to them, so
// that it works on a full disk: [DB.DeleteAll] deletes the rows in a
// transaction first, which needs space for its WAL. What is not committed
// is discarded; no batch may be open. The object has no storage afterwards
// (the next write creates it anew); an object without storage fails with
// [ErrNoStorage]. The caller tells the wake index that its timers are gone.
func (db *DB) Remove(ctx context.Context) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.adminErr("remove", db.destroyLocked(ctx))
}

func (db *DB) destroyLocked(ctx context.Context) error {
	if err := db.adminReady(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.conn == nil {
		return ErrNoStorage
	}
	if err := db.shipLocked(true); err != nil {
		return err
	}
	// Closing may fail to checkpoint on a full disk: the files go anyway.
	_ = db.disconnectLocked()
	return db.s.remove(db.path)
}

// adminReady checks that an admin operation may run: the DB is open and
// healthy, and no batch or transaction is open.
func (db *DB) adminReady() error {
	switch {
	case db.closed:
		return ErrClosed
	case db.broken != nil:
		return db.broken
	case db.inTx || db.depth > 0:
		return errBatchOpen
	}
	return nil
}

// adminErr adds the operation and object to err, and translates SQLite's
// errors unless err already carries a code.
func (db *DB) adminErr(op string, err error) error {
	if err == nil || !errcode.Coded(err) {
		return db.wrap(op, err)
	}
	return fmt.Errorf("%s %s/%s: %w", op, db.class, db.id.String()[:12], err)
}

// backupPages is how many pages a backup copies per step; ctx is checked
// between steps.
const backupPages = 1024

// backup copies the main database of src over dst's in one transaction of
// dst: a failed or canceled copy leaves dst as it was.
func backup(ctx context.Context, dst, src *sqlite3.SQLiteConn) (err error) {
	b, err := dst.Backup("main", src, "main")
	if err != nil {
		return err
	}
	defer func() {
		// Finish rolls dst back unless the copy is complete.
		if ferr := b.Finish(); err == nil {
			err = ferr
		}
	}()
	copied := -1
	for {
		done, err := b.Step(backupPages)
		if err != nil || done {
			return err
		}
		// The driver reports a busy or locked database as no progress.
		if n := b.PageCount() - b.Remaining(); n > copied {
			copied = n
		} else {
			return sqlite3.Error{Code: sqlite3.ErrBusy}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// openPlain opens a database file with SQLite's own VFS: path may be
// outside the data directory. Read-only, the file is immutable: SQLite
// reads that one file, ignores any -wal or -journal beside it, and creates
// none (a read-only connection to a WAL database would leave a -shm and a
// -wal file). Read-write, it is created if missing, and locking mode
// EXCLUSIVE spares a WAL database its -shm file.
func openPlain(path string, readOnly bool) (*sqlite3.SQLiteConn, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	q := "mode=rwc&_locking_mode=EXCLUSIVE"
	if readOnly {
		q = "mode=ro&immutable=1"
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q}
	c, err := (&sqlite3.SQLiteDriver{}).Open(u.String())
	if err != nil {
		return nil, err
	}
	return c.(*sqlite3.SQLiteConn), nil
}

// removeSQLiteFiles removes a database file and any journal SQLite left.
func removeSQLiteFiles(path string) {
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}

// selectInt runs Roost's own query of one integer.
func selectInt(conn *sqlite3.SQLiteConn, query string) (int64, error) {
	rows, err := conn.Query(query, nil)
	if err != nil {
		return 0, err
	}
	return firstInt(rows)
}

// firstInt reads the integer in the first column of the first row, and
// closes rows.
func firstInt(rows driver.Rows) (int64, error) {
	defer rows.Close()
	v := make([]driver.Value, 1)
	if err := rows.Next(v); err != nil {
		return 0, err
	}
	n, _ := v[0].(int64)
	return n, nil
}

// selectText runs Roost's own query of one text value.
func selectText(conn *sqlite3.SQLiteConn, query string) (string, error) {
	texts, err := selectTexts(conn, query)
	if err == nil && len(texts) == 0 {
		err = io.EOF
	}
	if err != nil {
		return "", err
	}
	return texts[0], nil
}

// selectTexts runs Roost's own query of one text column.
func selectTexts(conn *sqlite3.SQLiteConn, query string) ([]string, error) {
	rows, err := conn.Query(query, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	v := make([]driver.Value, 1)
	for {
		if err := rows.Next(v); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		out = append(out, text(v[0]))
	}
}

// text returns a TEXT or BLOB value as a string.
func text(v driver.Value) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}
