package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"
)

// Result is the outcome of [DB.Exec].
type Result struct {
	// RowsAffected is the number of rows the last statement changed.
	RowsAffected int64
	// LastInsertID is the rowid of the last inserted row.
	LastInsertID int64
}

var errSQLUsage = errors.New("bad sql call")

// Exec runs SQL that returns no rows. query may hold several statements
// separated by semicolons; args are taken by the statements in order.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (Result, error) {
	vals, err := values(args)
	if err != nil {
		return Result{}, err
	}
	defer db.lock(ctx)()
	done, err := db.writable(ctx)
	if err != nil {
		return Result{}, err
	}
	db.user = true
	res, err := db.conn.Exec(query, vals)
	db.user = false
	if err != nil {
		return Result{}, done(db.wrap("exec", err))
	}
	var r Result
	r.RowsAffected, _ = res.RowsAffected()
	r.LastInsertID, _ = res.LastInsertId()
	return r, done(nil)
}

// Query runs SQL that returns rows; with several statements, the earlier
// ones run first and the rows are the last one's. A statement that writes
// (INSERT … RETURNING) belongs to the event like any write. The caller must
// Close the Rows; they are closed at the end of the event in any case. Query
// creates the object's (empty) database if it has none yet.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*Rows, error) {
	vals, err := values(args)
	if err != nil {
		return nil, err
	}
	defer db.lock(ctx)()
	if _, err := db.readable(ctx); err != nil {
		return nil, err
	}
	if err := db.ensureFile(); err != nil {
		return nil, err
	}
	finish := func(err error) error { return err }
	if db.inEvent || db.depth > 0 || db.inTx {
		// Inside an event or transaction the statement may write: it runs in
		// the transaction. Outside, SQLite commits each statement on its own.
		if finish, err = db.writable(ctx); err != nil {
			return nil, err
		}
	}
	db.user = true
	rows, err := db.conn.Query(query, vals)
	db.user = false
	if err != nil {
		return nil, finish(db.wrap("query", err))
	}
	if err := finish(nil); err != nil {
		rows.Close()
		return nil, err
	}
	r := &Rows{db: db, rows: rows, cols: rows.Columns()}
	db.rows[r] = struct{}{}
	return r, nil
}

// values checks and converts arguments for the driver.
func values(args []any) ([]driver.Value, error) {
	if len(args) == 0 {
		return nil, nil
	}
	out := make([]driver.Value, len(args))
	for i, a := range args {
		v, err := value(a)
		if err != nil {
			return nil, fmt.Errorf("sql: %w: argument %d: %v", errSQLUsage, i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

func value(a any) (driver.Value, error) {
	switch v := a.(type) {
	case nil, int64, float64, bool, string, []byte:
		return v, nil
	case int:
		return int64(v), nil
	case int8:
		return int64(v), nil
	case int16:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case uint8:
		return int64(v), nil
	case uint16:
		return int64(v), nil
	case uint32:
		return int64(v), nil
	case uint:
		return int64(v), nil
	case uint64:
		return int64(v), nil
	case float32:
		return float64(v), nil
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano), nil
	case driver.Valuer:
		return v.Value()
	}
	return nil, fmt.Errorf("unsupported type %T", a)
}
