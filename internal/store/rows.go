package store

import (
	"cmp"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"time"
)

// Rows is the result of [DB.Query]: iterate with Next, read with Scan, and
// Close when done (it is closed at the end of the event in any case).
type Rows struct {
	db     *DB
	rows   driver.Rows
	cols   []string
	cur    []driver.Value
	err    error
	closed bool
	// ship: the query ran on its own, outside any batch, in a replicated
	// store; what it wrote commits when it closes, and is shipped then.
	ship bool
}

// Columns returns the column names.
func (r *Rows) Columns() []string { return r.cols }

// Next advances to the next row; false at the end or on error (see Err).
func (r *Rows) Next() bool {
	r.db.mu.Lock()
	defer r.db.mu.Unlock()
	if r.closed {
		return false
	}
	if r.cur == nil {
		r.cur = make([]driver.Value, len(r.cols))
	}
	// A step may prepare the statement again (after a schema change): the
	// user's rules apply.
	r.db.mode = userSQL
	err := r.rows.Next(r.cur)
	r.db.mode = roostSQL
	if err != nil {
		if err != io.EOF {
			r.err = r.db.wrap("query", err)
		}
		r.closeLocked()
		return false
	}
	return true
}

// Err returns the error that ended the iteration, if any.
func (r *Rows) Err() error { return r.err }

// Close releases the statement. It is safe to call more than once.
func (r *Rows) Close() error {
	r.db.mu.Lock()
	defer r.db.mu.Unlock()
	r.closeLocked()
	return r.err
}

func (r *Rows) closeLocked() {
	if r.closed {
		return
	}
	r.closed = true
	delete(r.db.rows, r)
	r.rows.Close()
	if r.ship && r.db.broken == nil {
		if err := r.db.shipLocked(false); err != nil {
			r.db.broken, r.err = err, cmp.Or(r.err, err)
		}
	}
}

// Scan copies the current row into dest, one pointer per column, converting
// as database/sql does for the usual types: *int*, *uint*, *float*, *string,
// *[]byte, *bool, *time.Time, *any, and any sql.Scanner (sql.NullString, …).
func (r *Rows) Scan(dest ...any) error {
	r.db.mu.Lock()
	defer r.db.mu.Unlock()
	if r.closed || r.cur == nil {
		return errors.New("sql: Scan called without a row (call Next first, and before Close)")
	}
	if len(dest) != len(r.cols) {
		return fmt.Errorf("sql: Scan expected %d destinations, got %d", len(r.cols), len(dest))
	}
	for i, d := range dest {
		src := r.cur[i]
		if b, ok := src.([]byte); ok {
			src = append([]byte{}, b...) // the driver may reuse its buffer
		}
		if err := assign(d, src); err != nil {
			return fmt.Errorf("sql: Scan column %d (%s): %w", i, r.cols[i], err)
		}
	}
	return nil
}

func assign(dest, src any) error {
	if s, ok := dest.(sql.Scanner); ok {
		return s.Scan(src)
	}
	switch d := dest.(type) {
	case *any:
		*d = src
		return nil
	case *string:
		switch v := src.(type) {
		case string:
			*d = v
		case []byte:
			*d = string(v)
		case int64:
			*d = strconv.FormatInt(v, 10)
		case float64:
			*d = strconv.FormatFloat(v, 'g', -1, 64)
		case bool:
			*d = strconv.FormatBool(v)
		case time.Time:
			*d = v.Format(time.RFC3339Nano)
		case nil:
			return errors.New("NULL into *string (use *sql.NullString)")
		}
		return nil
	case *[]byte:
		switch v := src.(type) {
		case []byte:
			*d = v
		case string:
			*d = []byte(v)
		case nil:
			*d = nil
		default:
			*d = fmt.Append(nil, v)
		}
		return nil
	case *time.Time:
		return assignTime(d, src)
	case *bool:
		switch v := src.(type) {
		case bool:
			*d = v
			return nil
		case int64:
			*d = v != 0
			return nil
		case string:
			b, err := strconv.ParseBool(v)
			*d = b
			return err
		}
		return fmt.Errorf("cannot scan %T into *bool", src)
	}
	return assignNumber(dest, src)
}

func assignTime(d *time.Time, src any) error {
	switch v := src.(type) {
	case time.Time:
		*d = v
		return nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		*d = t
		return err
	case int64:
		*d = time.Unix(v, 0).UTC()
		return nil
	}
	return fmt.Errorf("cannot scan %T into *time.Time", src)
}

// assignNumber handles pointers to integer and float kinds, including named
// types, like database/sql's convertAssign.
func assignNumber(dest, src any) error {
	dv := reflect.ValueOf(dest)
	if dv.Kind() != reflect.Pointer || dv.IsNil() {
		return fmt.Errorf("destination %T is not a non-nil pointer", dest)
	}
	e := dv.Elem()
	if src == nil {
		return fmt.Errorf("NULL into %T (use a sql.Null type)", dest)
	}
	s := fmt.Sprint(src)
	switch e.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, e.Type().Bits())
		if err != nil {
			return fmt.Errorf("converting %v to %s: %w", src, e.Type(), err)
		}
		e.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, e.Type().Bits())
		if err != nil {
			return fmt.Errorf("converting %v to %s: %w", src, e.Type(), err)
		}
		e.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, e.Type().Bits())
		if err != nil {
			return fmt.Errorf("converting %v to %s: %w", src, e.Type(), err)
		}
		e.SetFloat(f)
	case reflect.String:
		e.SetString(s)
	default:
		return fmt.Errorf("unsupported destination %T", dest)
	}
	return nil
}
