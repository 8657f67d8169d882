package store

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/roost-dev/roost/internal/errcode"
)

// Import replaces the object's whole database with a copy of the SQLite
// database file src. It is atomic: the object's connection commits the copy
// as one transaction, and on any failure the object's data is as before.
// src is read as one immutable file: a -wal or -journal file beside it is
// ignored (checkpoint it first, or import a file that Export wrote).
//
// src must be a SQLite database with 4096-byte pages (others are refused
// with a hint to convert them: VACUUM may renumber rowids, so the operator
// decides), pass PRAGMA integrity_check, and hold nothing that user SQL could
// not have created: no virtual table, no object named _roost_* or on a
// _roost_* table but Roost's own tables (_roost_kv, _roost_timers), made
// exactly as in a new object, no object whose SQL names a _roost_* table (a
// foreign key, a trigger, a view), and no statistics in sqlite_stat1 or
// sqlite_stat4 about them. Otherwise Import fails with code bad_request.
// The tables of a new object that src lacks are created empty.
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
	if err := db.shipLocked(false); err != nil {
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

// HeaderSize is the size of a SQLite database file's header, which
// [CheckHeader] reads.
const HeaderSize = 100

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
	h := make([]byte, HeaderSize)
	n, err := io.ReadFull(f, h)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	return CheckHeader(h[:n], maxSize)
}

// CheckHeader checks the first [HeaderSize] bytes of a file to import (h
// is shorter if the file is), so that an upload that is no database, or
// one too big, is refused before the rest of it is read: it must be a
// SQLite database (code bad_request) with 4096-byte pages, whose size, if
// its header records one, is at most maxSize (code limit_exceeded).
func CheckHeader(h []byte, maxSize int64) error {
	if len(h) < HeaderSize || string(h[:16]) != sqliteMagic {
		return badImport("the file is not a SQLite database: it does not start with %q", sqliteMagic)
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize != 4096 {
		return badImport("the database's page size is %d bytes; Roost's is 4096. Convert it first: "+
			"sqlite3 FILE 'PRAGMA journal_mode=DELETE; PRAGMA page_size=4096; VACUUM;' "+
			"(VACUUM may renumber the rowids of tables without an INTEGER PRIMARY KEY)", pageSize)
	}
	// The page count at offset 28 is valid when the change counter (24)
	// matches the version-valid-for number (92), as SQLite decides.
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	if pages > 0 && string(h[24:28]) == string(h[92:96]) && pages*pageSize > maxSize {
		return &LimitError{Limit: "database size", Max: maxSize, Got: pages * pageSize}
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
	if err := checkImportStats(stage, have); err != nil {
		return err
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
// table, an object that reaches Roost's internal tables (a trigger on
// _roost_kv, or a foreign key to it whose cascade fires a trigger, would run
// inside Roost's own writes), or one of Roost's own tables and indexes made
// unlike the template of new objects.
func checkImportObject(o schemaObject, tmpl []schemaObject) error {
	i := slices.IndexFunc(tmpl, func(t schemaObject) bool { return strings.EqualFold(t.name, o.name) })
	switch {
	case strings.HasPrefix(strings.ToUpper(o.sql), "CREATE VIRTUAL TABLE"):
		return badImport("virtual table %s: objects cannot hold virtual tables", o.name)
	case i >= 0 && o.sql != tmpl[i].sql:
		return badImport("%s %s is %q; Roost's is %q", o.typ, o.name, o.sql, tmpl[i].sql)
	case i < 0:
		if problem := userObjectProblem(o.typ, o.name, o.tbl, o.sql); problem != "" {
			return badImport("%s", problem)
		}
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
// the template's bytes, with the timers table an object's first timer
// adds.
func (s *Store) templateSchema() ([]schemaObject, error) {
	c, err := (&sqlite3.SQLiteDriver{}).Open(":memory:")
	if err != nil {
		return nil, err
	}
	conn := c.(*sqlite3.SQLiteConn)
	defer conn.Close()
	t, err := s.tmpl()
	if err != nil {
		return nil, err
	}
	b := slices.Clone(t.db)
	b[18], b[19] = 1, 1 // a memory database cannot be in WAL mode
	if err := conn.Deserialize(b, "main"); err != nil {
		return nil, err
	}
	objs, err := readSchema(conn)
	if err != nil {
		return nil, err
	}
	// The timers table comes with an object's first timer; a file may hold
	// it. (The deserialized database cannot grow: it is read in a memory
	// database of its own.)
	tc, err := (&sqlite3.SQLiteDriver{}).Open(":memory:")
	if err != nil {
		return nil, err
	}
	defer tc.Close()
	timers := tc.(*sqlite3.SQLiteConn)
	if _, err := timers.Exec(timersSchema, nil); err != nil {
		return nil, err
	}
	more, err := readSchema(timers)
	return append(objs, more...), err
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
