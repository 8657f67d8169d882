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
	var res *QueryResult
	err = db.runUser(query, func() (err error) {
		res, err = collect(ctx, db.conn, query, args, maxRows)
		return err
	})
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
