package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/roost-dev/roost/internal/errcode"
)

// Result is the outcome of [DB.Exec].
type Result struct {
	// RowsAffected is the number of rows the last statement changed.
	RowsAffected int64
	// LastInsertID is the rowid of the last inserted row.
	LastInsertID int64
}

// errSQLUsage marks a call that misuses the SQL API (an argument of an
// unsupported type): the caller's mistake, code sql_error like SQL that
// SQLite rejects, not an internal error.
var errSQLUsage error = &errcode.Error{Code: errcode.SQLError, Message: "bad sql call"}

// Exec runs SQL that returns no rows. query may hold several statements
// separated by semicolons; args are taken by the statements in order.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (Result, error) {
	vals, err := values(args, db.s.cfg.MaxValueSize)
	if err != nil {
		return Result{}, err
	}
	defer db.lock(ctx)()
	done, err := db.writable(ctx)
	if err != nil {
		return Result{}, err
	}
	var res driver.Result
	err = db.runUser(query, func() (err error) {
		res, err = db.conn.Exec(query, vals)
		return err
	})
	if err != nil {
		return Result{}, done(db.wrap("exec", usageError(err)))
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
	vals, err := values(args, db.s.cfg.MaxValueSize)
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
		deleted := db.deleted
		if finish, err = db.writable(ctx); err != nil {
			return nil, err
		}
		// A read after DeleteAll must not keep the object's file: the commit
		// checks whether the object is still empty.
		db.deleted = deleted
	}
	// The driver runs the earlier statements and takes the first step of
	// the last one here: a schema change has run to its end when Query
	// returns.
	var rows driver.Rows
	err = db.runUser(query, func() (err error) {
		rows, err = db.conn.Query(query, vals)
		return err
	})
	if err != nil {
		if rows != nil {
			rows.Close()
		}
		return nil, finish(db.wrap("query", usageError(err)))
	}
	if err := finish(nil); err != nil {
		rows.Close()
		return nil, err
	}
	r := &Rows{db: db, rows: rows, cols: rows.Columns(), ship: !db.inTx && db.s.cfg.Log != nil}
	db.rows[r] = struct{}{}
	return r, nil
}

// usageError marks the driver's own errors (too few arguments) as the
// caller's mistake; SQLite's errors get their codes from translate, and the
// sandbox's keep theirs.
func usageError(err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return err
	}
	if _, ok := errors.AsType[*errcode.Error](err); ok {
		return err
	}
	return fmt.Errorf("sql: %w: %v", errSQLUsage, err)
}

// values checks and converts arguments for the driver. A string or blob over
// maxLen (MaxValueSize) is refused: SQLite's own length limit is a little
// higher, as it also bounds KV rows, key included.
func values(args []any, maxLen int) ([]driver.Value, error) {
	if len(args) == 0 {
		return nil, nil
	}
	out := make([]driver.Value, len(args))
	for i, a := range args {
		v, err := value(a)
		if err != nil {
			return nil, fmt.Errorf("sql: %w: argument %d: %v", errSQLUsage, i+1, err)
		}
		n := 0
		switch v := v.(type) {
		case string:
			n = len(v)
		case []byte:
			n = len(v)
		}
		if n > maxLen {
			return nil, &LimitError{Limit: "value size", Max: int64(maxLen), Got: int64(n)}
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
	// Named types (type Status int, time.Duration) bind as their kind, as
	// database/sql's default converter does.
	switch rv := reflect.ValueOf(a); rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.String:
		return rv.String(), nil
	}
	return nil, fmt.Errorf("unsupported type %T", a)
}
