package store

import (
	"cmp"
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/roost-dev/roost/internal/errcode"
)

// The admin operations below serve operators (`roost objects …`), not
// objects. The runtime calls them in the object's turn, between batches: they
// see and change only committed data, and each change is committed before it
// returns.

// ErrNoStorage is returned by an admin operation that needs the object's
// database when the object has none: it never wrote, or DeleteAll removed it.
var ErrNoStorage = errors.New("object has no storage (it has never written, or DeleteAll removed its data)")

func init() { errcode.Register(ErrNoStorage, errcode.NotFound) }

// errBatchOpen is the runtime's mistake: it must commit pending events first.
var errBatchOpen = errors.New("a batch transaction is open: commit pending events before an admin operation")

// DefaultMaxRows is the most rows [DB.AdminQuery] returns when asked for 0.
const DefaultMaxRows = 1000

// TableInfo describes one schema object of the user's: a table, view, index
// or trigger.
type TableInfo struct {
	Name string
	// Type is "table", "view", "index" or "trigger".
	Type string
	// SQL is the statement that creates it.
	SQL string
	// Rows is the table's row count; 0 for other types.
	Rows int64
}

// QueryResult is the outcome of [DB.AdminQuery].
type QueryResult struct {
	Columns []string
	// Rows hold int64, float64, string, []byte or nil values: see [DB.AdminQuery].
	Rows [][]any
	// Truncated reports that the statement returned more rows than Rows holds.
	Truncated bool
	// RowsAffected counts the rows the statement inserted, updated or deleted,
	// including those its triggers changed.
	RowsAffected int64
}

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
	n, err := selectInt(db.conn, `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`)
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

// Import replaces the object's whole database with a copy of the SQLite
// database file src. It is atomic: the object's connection commits the copy
// as one transaction, and on any failure the object's data is as before.
// src is read as one immutable file: a -wal or -journal file beside it is
// ignored (checkpoint it first, or import a file that Export wrote).
//
// src must be a SQLite database with 4096-byte pages (others are refused
// with a hint to convert them: VACUUM may renumber rowids, so the operator
// decides), pass PRAGMA integrity_check, and hold nothing that user SQL could
// not have created: no virtual table, no trigger or index on a _roost_*
// table, no view or trigger named _roost_*, and Roost's own tables
// (_roost_kv, _roost_timers), if present, made exactly as in a new object.
// Otherwise Import fails with code bad_request. The tables of a new object
// that src lacks are created empty.
// src is copied into a staging file in the data directory and checked there,
// so Import needs free space for two copies.
//
// If the object already holds data (a KV pair, a table, index, view or
// trigger of its own, or a timer), Import fails with code conflict unless
// force is set. Timers in src are imported with the rest: the runtime must
// reschedule the object's timers afterwards.
func (db *DB) Import(ctx context.Context, src string, force bool) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.adminErr("import", db.importLocked(ctx, src, force))
}

func (db *DB) importLocked(ctx context.Context, src string, force bool) error {
	if err := db.adminReady(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.conn != nil && !force {
		full, err := db.holdsDataLocked()
		if err != nil {
			return err
		}
		if full {
			return errcode.New(errcode.Conflict, "object already holds data; use force to overwrite")
		}
	}
	stage, done, err := db.stageImport(ctx, src)
	if err != nil {
		return err
	}
	defer done()
	created := db.conn == nil
	if err := db.ensureFile(); err != nil {
		return err
	}
	// Open result sets and cached statements belong to the data being
	// replaced, and an open read would stop the copy.
	for r := range db.rows {
		r.closeLocked()
	}
	for _, st := range db.stmts {
		st.Close()
	}
	clear(db.stmts)
	// The copy is one transaction of the object's connection: its WAL, its
	// synchronous setting and its size limit (max_page_count) apply.
	if err := backup(ctx, db.conn, stage); err != nil {
		if created {
			err = errors.Join(err, db.removeLocked())
		}
		return err
	}
	// A new connection keeps nothing cached about the replaced schema (such
	// as whether the timers table exists), and is configured like any.
	if err := db.disconnectLocked(); err != nil {
		return err
	}
	return db.connect()
}

// holdsDataLocked reports whether the object stores anything: a KV pair, a
// schema object of the user's or a pending timer.
func (db *DB) holdsDataLocked() (bool, error) {
	n, err := selectInt(db.conn, `SELECT EXISTS (SELECT 1 FROM _roost_kv) OR EXISTS (SELECT 1 FROM sqlite_schema
		WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_roost\_%' ESCAPE '\')`)
	if err != nil || n != 0 {
		return n != 0, err
	}
	if n, err = selectInt(db.conn, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '_roost_timers'`); err != nil || n == 0 {
		return false, err
	}
	n, err = selectInt(db.conn, `SELECT EXISTS (SELECT 1 FROM _roost_timers)`)
	return n != 0, err
}

// stageImport copies src into a staging file in the data directory, checks
// the copy and completes it (the KV table, Roost's application_id): what
// Import copies into the object is exactly what was checked. It returns a
// connection to the staging file and a function that closes and removes it.
func (db *DB) stageImport(ctx context.Context, src string) (*sqlite3.SQLiteConn, func(), error) {
	if err := checkImportFile(src, db.s.cfg.MaxDatabaseSize); err != nil {
		return nil, nil, err
	}
	tmpl, err := db.s.templateSchema()
	if err != nil {
		return nil, nil, err
	}
	dir := filepath.Join(db.s.abs, ".tmp") // removed when the store opens, so a crash leaves nothing behind for long
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	f, err := os.CreateTemp(dir, "import-*.db")
	if err != nil {
		return nil, nil, err
	}
	name := f.Name()
	f.Close()
	stage, err := openPlain(name, false)
	if err != nil {
		removeSQLiteFiles(name)
		return nil, nil, err
	}
	done := func() {
		stage.Close()
		removeSQLiteFiles(name)
	}
	err = copyFromFile(ctx, stage, src)
	if err == nil {
		err = completeImport(stage, tmpl)
	}
	if err != nil {
		done()
		return nil, nil, importError(err)
	}
	return stage, done, nil
}

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// checkImportFile checks src's size and header before anything is copied.
func checkImportFile(src string, maxSize int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() > maxSize {
		return &LimitError{Limit: "database size", Max: maxSize, Got: st.Size()}
	}
	h := make([]byte, 100) // the database header
	n, err := io.ReadFull(f, h)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	if n < len(h) || string(h[:16]) != sqliteMagic {
		return badImport("the file is not a SQLite database")
	}
	pageSize := int(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize != 4096 {
		return badImport("the database's page size is %d bytes; Roost's is 4096. Convert it first: "+
			"sqlite3 FILE 'PRAGMA journal_mode=DELETE; PRAGMA page_size=4096; VACUUM;' "+
			"(VACUUM may renumber the rowids of tables without an INTEGER PRIMARY KEY)", pageSize)
	}
	return nil
}

// copyFromFile copies the database file src into dst.
func copyFromFile(ctx context.Context, dst *sqlite3.SQLiteConn, src string) error {
	in, err := openPlain(src, true)
	if err != nil {
		return err
	}
	defer in.Close()
	return backup(ctx, dst, in)
}

// completeImport checks the staged copy, then adds what Roost needs: the
// objects of a new object's database that the copy lacks (_roost_kv, …),
// and Roost's application_id.
func completeImport(stage *sqlite3.SQLiteConn, tmpl []schemaObject) error {
	// Checks read the schema, and integrity_check evaluates CHECK
	// constraints: with trusted_schema=OFF, they may call only innocuous
	// functions.
	if _, err := stage.Exec(`PRAGMA trusted_schema=OFF`, nil); err != nil {
		return err
	}
	problems, err := selectTexts(stage, `PRAGMA integrity_check(5)`)
	if err != nil {
		return err
	}
	if len(problems) != 1 || problems[0] != "ok" {
		return badImport("the database fails PRAGMA integrity_check: %s", strings.Join(problems, "; "))
	}
	objs, err := readSchema(stage)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, o := range objs {
		if err := checkImportObject(o, tmpl); err != nil {
			return err
		}
		have[strings.ToLower(o.name)] = true
	}
	for _, o := range tmpl {
		if !have[strings.ToLower(o.name)] {
			if _, err := stage.Exec(o.sql, nil); err != nil {
				return err
			}
		}
	}
	_, err = stage.Exec(fmt.Sprintf(`PRAGMA application_id=%d`, applicationID), nil)
	return err
}

// checkImportObject refuses what user SQL could not have created: a virtual
// table, an object that hooks into Roost's internal tables (a trigger on
// _roost_kv would run on every KV write, where the authorizer does not
// look), or one of Roost's own tables and indexes made unlike the template
// of new objects.
func checkImportObject(o schemaObject, tmpl []schemaObject) error {
	i := slices.IndexFunc(tmpl, func(t schemaObject) bool { return strings.EqualFold(t.name, o.name) })
	switch {
	case strings.HasPrefix(strings.ToUpper(o.sql), "CREATE VIRTUAL TABLE"):
		return badImport("virtual table %s: objects cannot hold virtual tables", o.name)
	case i >= 0 && o.sql != tmpl[i].sql:
		return badImport("%s %s is %q; Roost's is %q", o.typ, o.name, o.sql, tmpl[i].sql)
	case i < 0 && (internalName(o.name) || internalName(o.tbl)) &&
		!((o.typ == "table" || o.typ == "index") && internalName(o.name) && internalName(o.tbl)):
		return badImport("%s %s on table %s: names starting with _roost_ are reserved for Roost's internal tables", o.typ, o.name, o.tbl)
	}
	return nil
}

// schemaObject is a row of sqlite_schema.
type schemaObject struct{ typ, name, tbl, sql string }

// readSchema returns the schema of conn's main database in creation order.
func readSchema(conn *sqlite3.SQLiteConn) ([]schemaObject, error) {
	rows, err := conn.Query(`SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema ORDER BY rowid`, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []schemaObject
	v := make([]driver.Value, 4)
	for {
		if err := rows.Next(v); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		out = append(out, schemaObject{typ: text(v[0]), name: text(v[1]), tbl: text(v[2]), sql: text(v[3])})
	}
}

// templateSchema returns the schema of a new object's database, read from
// the template's bytes.
func (s *Store) templateSchema() ([]schemaObject, error) {
	c, err := (&sqlite3.SQLiteDriver{}).Open(":memory:")
	if err != nil {
		return nil, err
	}
	conn := c.(*sqlite3.SQLiteConn)
	defer conn.Close()
	b := slices.Clone(s.template.db)
	b[18], b[19] = 1, 1 // a memory database cannot be in WAL mode
	if err := conn.Deserialize(b, "main"); err != nil {
		return nil, err
	}
	return readSchema(conn)
}

// badImport is an error in the imported file.
func badImport(format string, args ...any) error {
	return &errcode.Error{Code: errcode.BadRequest, Message: "import: " + fmt.Sprintf(format, args...)}
}

// importError gives code bad_request to SQLite's errors about the imported
// file; a failing or full disk keeps its own code.
func importError(err error) error {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case sqlite3.ErrIoErr, sqlite3.ErrFull, sqlite3.ErrNomem, sqlite3.ErrInterrupt, sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrCantOpen:
		return err
	}
	return &errcode.Error{Code: errcode.BadRequest, Message: "import: the file is not a valid SQLite database: " + se.Error(), Err: err}
}

// Tables lists the user's tables, views, indexes and triggers, with the SQL
// that creates them and, for tables, their row count. Roost's internal
// tables and SQLite's own are left out. An object without storage has none.
func (db *DB) Tables(ctx context.Context) ([]TableInfo, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	out, err := db.tablesLocked(ctx)
	return out, db.adminErr("tables", err)
}

func (db *DB) tablesLocked(ctx context.Context) ([]TableInfo, error) {
	if err := db.adminReady(); err != nil || db.conn == nil {
		return nil, err
	}
	objs, err := readSchema(db.conn)
	if err != nil {
		return nil, err
	}
	var out []TableInfo
	for _, o := range objs {
		if !strings.HasPrefix(strings.ToLower(o.name), "sqlite_") && !internalName(o.name) && !internalName(o.tbl) {
			out = append(out, TableInfo{Name: o.name, Type: o.typ, SQL: o.sql})
		}
	}
	rank := map[string]int{"table": 0, "view": 1, "index": 2, "trigger": 3}
	slices.SortFunc(out, func(a, b TableInfo) int {
		return cmp.Or(cmp.Compare(rank[a.Type], rank[b.Type]), strings.Compare(a.Name, b.Name))
	})
	for i, t := range out {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if t.Type == "table" {
			if out[i].Rows, err = selectInt(db.conn, `SELECT count(*) FROM `+quoteIdent(t.Name)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// AdminQuery runs SQL for an operator and returns its columns and up to
// maxRows rows (0 means [DefaultMaxRows]); Truncated reports that there were
// more. args are bound in order. The rules of user SQL apply: the authorizer
// refuses Roost's internal tables, ATTACH, engine pragmas and transaction
// control. Like [DB.Query], query may hold several statements: they run in
// order and the rows are the last one's.
//
// Unless write is set it runs read-only (PRAGMA query_only): a statement that
// writes fails with code read_only and changes nothing. With write it runs in
// a transaction of its own, committed before AdminQuery returns, or rolled
// back if any statement fails. A read-only query of an object without
// storage fails with [ErrNoStorage]; a write creates the storage.
//
// Values: INTEGER is int64, REAL float64, TEXT string and NULL nil; a BLOB
// is a string when it is valid UTF-8 and a []byte otherwise (encoding/json
// writes that as base64). The driver reads columns declared DATE, DATETIME
// or TIMESTAMP as times, returned as RFC 3339 text, and BOOLEAN as 0 or 1.
func (db *DB) AdminQuery(ctx context.Context, query string, args []any, write bool, maxRows int) (*QueryResult, error) {
	vals, err := values(args, db.s.cfg.MaxValueSize)
	if err != nil {
		return nil, err
	}
	named := make([]driver.NamedValue, len(vals))
	for i, v := range vals {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	if maxRows <= 0 {
		maxRows = DefaultMaxRows
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	res, err := db.adminQueryLocked(ctx, query, named, write, maxRows)
	if err != nil {
		return nil, db.adminErr("admin query", err)
	}
	return res, nil
}

func (db *DB) adminQueryLocked(ctx context.Context, query string, args []driver.NamedValue, write bool, maxRows int) (*QueryResult, error) {
	if err := db.adminReady(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	created := false
	if db.conn == nil {
		if !write {
			return nil, ErrNoStorage
		}
		if err := db.ensureFile(); err != nil {
			return nil, err
		}
		created = true
	}
	finish, err := db.beginAdminLocked(write)
	if err != nil {
		return nil, err
	}
	res, err := db.runAdminLocked(ctx, query, args, maxRows)
	if err = finish(err); err != nil {
		if created {
			err = errors.Join(err, db.removeLocked())
		}
		return nil, err
	}
	return res, nil
}

// beginAdminLocked starts what surrounds an admin statement: a write
// transaction, or query_only. finish ends it, committing only if the
// statement succeeded, and turns query_only off again.
func (db *DB) beginAdminLocked(write bool) (finish func(error) error, err error) {
	if write {
		if _, err := db.conn.Exec(`BEGIN IMMEDIATE`, nil); err != nil {
			return nil, err
		}
		return func(err error) error {
			if err == nil {
				if _, err = db.conn.Exec(`COMMIT`, nil); err == nil {
					return nil
				}
			}
			if !db.conn.AutoCommit() {
				_, _ = db.conn.Exec(`ROLLBACK`, nil)
			}
			return err
		}, nil
	}
	if _, err := db.conn.Exec(`PRAGMA query_only=ON`, nil); err != nil {
		return nil, err
	}
	return func(err error) error {
		if _, rerr := db.conn.Exec(`PRAGMA query_only=OFF`, nil); rerr != nil {
			// The connection would refuse the object's writes: it must go.
			db.broken = db.wrap("restore query_only", rerr)
			return errors.Join(err, db.broken)
		}
		var se sqlite3.Error
		if errors.As(err, &se) && se.Code == sqlite3.ErrReadonly {
			return &errcode.Error{Code: errcode.ReadOnly, Err: err,
				Message: "admin SQL is read-only and this statement writes; run it again with --write to change the object's data"}
		}
		return err
	}, nil
}

// runAdminLocked runs the statements as user SQL and collects the result.
func (db *DB) runAdminLocked(ctx context.Context, query string, args []driver.NamedValue, maxRows int) (*QueryResult, error) {
	before, err := selectInt(db.conn, `SELECT total_changes()`)
	if err != nil {
		return nil, err
	}
	db.user = true
	res, err := collect(ctx, db.conn, query, args, maxRows)
	db.user = false
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, usageError(err)
	}
	after, err := selectInt(db.conn, `SELECT total_changes()`)
	res.RowsAffected = after - before
	return res, err
}

// collect runs query and reads up to maxRows of its rows. The statement is
// finished (closed) when it returns, so its changes are counted.
func collect(ctx context.Context, conn *sqlite3.SQLiteConn, query string, args []driver.NamedValue, maxRows int) (res *QueryResult, err error) {
	rows, err := conn.QueryContext(ctx, query, args)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := rows.Close(); err == nil && cerr != nil {
			res, err = nil, cerr
		}
	}()
	res = &QueryResult{Columns: append([]string{}, rows.Columns()...), Rows: [][]any{}}
	v := make([]driver.Value, len(res.Columns))
	for {
		if err := rows.Next(v); err == io.EOF {
			return res, nil
		} else if err != nil {
			return nil, err
		}
		if len(res.Rows) == maxRows {
			res.Truncated = true
			return res, nil
		}
		row := make([]any, len(v))
		for i, x := range v {
			row[i] = jsonValue(x)
		}
		res.Rows = append(res.Rows, row)
	}
}

// jsonValue converts a value read by the driver into one that encodes to
// JSON as the operator expects: see AdminQuery.
func jsonValue(v driver.Value) any {
	switch v := v.(type) {
	case []byte:
		if utf8.Valid(v) {
			return string(v)
		}
		return slices.Clone(v)
	case bool:
		if v {
			return int64(1)
		}
		return int64(0)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	}
	return v
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
	var coded interface{ ErrorCode() string }
	if err == nil || !errors.As(err, &coded) {
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
