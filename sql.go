package roost

import (
	"context"
	"errors"
	"fmt"

	"github.com/roost-dev/roost/internal/node"
)

// Result is the outcome of [Storage.Exec].
type Result = node.Result

// Rows is the result of [Storage.Query]: iterate with Next, read with Scan
// (the usual database/sql conversions and sql.Scanner types), check Err, and
// Close. Rows left open are closed when the event ends.
type Rows = node.Rows

// Exec runs SQL that returns no rows on the object's database. Without args,
// query may hold several statements. SQL may not attach other files, change
// the engine's safety settings (journal mode, synchronous, …), control
// transactions (use [Storage.Transaction]), run VACUUM, or reach Roost's
// internal tables (named _roost_*) in any way: no statement, trigger,
// foreign key or view may name them, and no table, index, trigger or view
// may take such a name. Such statements fail with code sql_not_authorized;
// a call whose schema change is refused is undone as a whole.
func (s *Storage) Exec(ctx context.Context, query string, args ...any) (Result, error) {
	db, err := s.db()
	if err != nil {
		return Result{}, err
	}
	return db.Exec(ctx, query, args...)
}

// Query runs SQL that returns rows. With several statements, the earlier
// ones run first and the rows are the last one's. A statement that writes
// (INSERT … RETURNING) is part of the event like any other write.
func (s *Storage) Query(ctx context.Context, query string, args ...any) (*Rows, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	return db.Query(ctx, query, args...)
}

// ErrNoRows is returned by [Row.Scan] when the query returned no row.
var ErrNoRows = errors.New("sql: no rows in result set")

// Row is the result of [Storage.QueryRow].
type Row struct {
	rows *Rows
	err  error
}

// QueryRow runs a query that returns at most one row; errors are deferred to
// [Row.Scan].
func (s *Storage) QueryRow(ctx context.Context, query string, args ...any) *Row {
	rows, err := s.Query(ctx, query, args...)
	return &Row{rows: rows, err: err}
}

// Scan copies the first row into dest and closes the rows. It returns
// ErrNoRows if there was none.
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return ErrNoRows
	}
	return r.rows.Scan(dest...)
}

// HasTable reports whether the object's database has a table named name,
// and creates nothing: a class that creates its schema with its first write
// asks it before reading its tables, so that reads of an object never
// written leave nothing on disk.
func (s *Storage) HasTable(ctx context.Context, name string) (bool, error) {
	var n int
	if err := s.QueryRow(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, name).Scan(&n); err != nil {
		return false, fmt.Errorf("look for table %q: %w", name, err)
	}
	return n > 0, nil
}
