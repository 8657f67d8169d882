package store

import (
	"cmp"
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/roost-dev/roost/internal/errcode"
)

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
// more. It is [DB.AdminQueryTo] with the rows collected in memory.
func (db *DB) AdminQuery(ctx context.Context, query string, args []any, write bool, maxRows int) (*QueryResult, error) {
	if maxRows <= 0 {
		maxRows = DefaultMaxRows
	}
	c := &collector{max: maxRows, res: &QueryResult{Rows: [][]any{}}}
	n, err := db.AdminQueryTo(ctx, query, args, write, c)
	if err != nil {
		return nil, err
	}
	c.res.RowsAffected = n
	return c.res, nil
}

// RowSink receives the result of [DB.AdminQueryTo] as the statement
// produces it, in the object's turn.
type RowSink interface {
	// Columns is called once, before any row, with the column names of the
	// last statement.
	Columns(cols []string) error
	// Row receives one row. Its values are int64, float64, string, []byte
	// or nil (see [DB.AdminQueryTo]), valid only during the call. more
	// false stops the statement: its other rows are not read, and the
	// query ends without error. An error fails the query.
	Row(vals []any) (more bool, err error)
}

// AdminQueryTo runs SQL for an operator and hands its rows to out one at a
// time, as SQLite produces them, so that no result is held whole; it
// returns the number of rows the statements inserted, updated or deleted,
// including those their triggers changed. args are bound in order. The
// rules of user SQL apply: the authorizer refuses Roost's internal tables,
// ATTACH, engine pragmas and transaction control. Like [DB.Query], query may
// hold several statements: they run in order and the rows are the last
// one's. The statement stops when ctx ends (sqlite3_interrupt): the query
// then fails with ctx's error and changes nothing.
//
// Unless write is set it runs read-only (PRAGMA query_only): a statement that
// writes fails with code read_only and changes nothing. With write it runs in
// a transaction of its own, committed before AdminQueryTo returns, or rolled
// back if any statement fails. A read-only query of an object without
// storage fails with [ErrNoStorage]; a write creates the storage.
//
// Values: INTEGER is int64, REAL float64, TEXT string and NULL nil; a BLOB
// is a string when it is valid UTF-8 and a []byte otherwise (encoding/json
// writes that as base64). The driver reads columns declared DATE, DATETIME
// or TIMESTAMP as times, given as RFC 3339 text, and BOOLEAN as 0 or 1. A
// row is read whole before out sees it: at most its columns times the
// value limit.
func (db *DB) AdminQueryTo(ctx context.Context, query string, args []any, write bool, out RowSink) (int64, error) {
	vals, err := values(args, db.s.cfg.MaxValueSize)
	if err != nil {
		return 0, err
	}
	named := make([]driver.NamedValue, len(vals))
	for i, v := range vals {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	n, err := db.adminQueryLocked(ctx, query, named, write, out)
	if err != nil {
		return 0, db.adminErr("admin query", err)
	}
	return n, nil
}

func (db *DB) adminQueryLocked(ctx context.Context, query string, args []driver.NamedValue, write bool, out RowSink) (int64, error) {
	if err := db.adminReady(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	created := false
	if db.conn == nil {
		if !write {
			return 0, ErrNoStorage
		}
		if err := db.ensureFile(); err != nil {
			return 0, err
		}
		created = true
	}
	finish, err := db.beginAdminLocked(write)
	if err != nil {
		return 0, err
	}
	n, err := db.runAdminLocked(ctx, query, args, out)
	if err = finish(err); err != nil {
		if created {
			err = errors.Join(err, db.removeLocked())
		}
		return 0, err
	}
	return n, nil
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
					return db.shipAdminLocked()
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

// shipAdminLocked sends an operator's committed write to the log (cluster
// mode), like a batch's: after an error the DB must be closed.
func (db *DB) shipAdminLocked() error {
	if db.s.cfg.Log == nil {
		return nil
	}
	if err := db.shipLocked(false); err != nil {
		db.broken = err
		return err
	}
	return nil
}

// runAdminLocked runs the statements as user SQL, hands their rows to out
// and counts the rows they changed.
func (db *DB) runAdminLocked(ctx context.Context, query string, args []driver.NamedValue, out RowSink) (int64, error) {
	before, err := selectInt(db.conn, `SELECT total_changes()`)
	if err != nil {
		return 0, err
	}
	err = db.runUser(query, func() error { return stream(ctx, db.conn, query, args, out) })
	if se, ok := errors.AsType[*sinkError](err); ok {
		return 0, se.err // out's own failure, such as a client that left
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, context.Cause(ctx)
		}
		return 0, usageError(err)
	}
	after, err := selectInt(db.conn, `SELECT total_changes()`)
	return after - before, err
}

// stream runs query and hands its rows to out until out wants no more.
// The statement is finished (closed) when it returns, so its changes are
// counted.
func stream(ctx context.Context, conn *sqlite3.SQLiteConn, query string, args []driver.NamedValue, out RowSink) (err error) {
	rows, err := conn.QueryContext(ctx, query, args)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := rows.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if err := out.Columns(append([]string{}, rows.Columns()...)); err != nil {
		return &sinkError{err}
	}
	v := make([]driver.Value, len(rows.Columns()))
	row := make([]any, len(v))
	for {
		if err := rows.Next(v); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		for i, x := range v {
			row[i] = jsonValue(x)
		}
		if more, err := out.Row(row); err != nil {
			return &sinkError{err}
		} else if !more {
			return nil
		}
	}
}

// sinkError is a RowSink's failure, told apart from the statement's.
type sinkError struct{ err error }

func (e *sinkError) Error() string { return e.err.Error() }

// collector is the RowSink of [DB.AdminQuery]: it keeps up to max rows.
type collector struct {
	max int
	res *QueryResult
}

func (c *collector) Columns(cols []string) error {
	c.res.Columns = cols
	return nil
}

func (c *collector) Row(vals []any) (bool, error) {
	if len(c.res.Rows) == c.max {
		c.res.Truncated = true
		return false, nil
	}
	row := make([]any, len(vals))
	for i, v := range vals {
		if b, ok := v.([]byte); ok {
			v = slices.Clone(b)
		}
		row[i] = v
	}
	c.res.Rows = append(c.res.Rows, row)
	return true, nil
}

// jsonValue converts a value read by the driver into one that encodes to
// JSON as the operator expects: see AdminQuery.
func jsonValue(v driver.Value) any {
	switch v := v.(type) {
	case []byte:
		if utf8.Valid(v) {
			return string(v)
		}
		return v // the driver's buffer: a RowSink copies what it keeps
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
