package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// Result is the outcome of [DB.Exec].
type Result struct {
	// RowsAffected is the number of rows the last statement changed.
	RowsAffected int64
	// LastInsertID is the rowid of the last inserted row.
	LastInsertID int64
}

// Exec runs SQL that returns no rows. Without args, query may hold several
// statements separated by semicolons; with args, exactly one.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (Result, error) {
	defer db.lock(ctx)()
	done, err := db.writable(ctx)
	if err != nil {
		return Result{}, err
	}
	res, err := db.execUser(query, args)
	return res, done(err)
}

func (db *DB) execUser(query string, args []any) (Result, error) {
	db.user = true
	defer func() { db.user = false }()
	for {
		st, tail, cached, err := db.prepareUser(query)
		if err != nil {
			return Result{}, err
		}
		if st == nil { // only whitespace or comments left
			return Result{}, nil
		}
		if strings.TrimSpace(tail) != "" && len(args) > 0 {
			db.release(st, cached)
			return Result{}, fmt.Errorf("sql: %w: arguments need a single statement", errSQLUsage)
		}
		err = bindAll(st, args)
		if err == nil {
			for st.Step() {
			}
			err = st.Err()
		}
		res := Result{RowsAffected: db.conn.Changes(), LastInsertID: db.conn.LastInsertRowID()}
		db.release(st, cached)
		if err != nil {
			return Result{}, db.wrap("exec", err)
		}
		if strings.TrimSpace(tail) == "" {
			return res, nil
		}
		query = tail
	}
}

var errSQLUsage = errors.New("bad sql call")

// Query runs SQL that returns rows. The caller must Close the Rows; they are
// closed at the end of the event in any case. Query creates the object's
// (empty) database if it has none yet.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*Rows, error) {
	defer db.lock(ctx)()
	if _, err := db.readable(ctx); err != nil {
		return nil, err
	}
	if err := db.ensureFile(); err != nil {
		return nil, err
	}
	db.user = true
	defer func() { db.user = false }()
	st, tail, cached, err := db.prepareUser(query)
	if err != nil {
		return nil, err
	}
	if st == nil || strings.TrimSpace(tail) != "" {
		if st != nil {
			db.release(st, cached)
		}
		return nil, fmt.Errorf("sql: %w: Query needs exactly one statement", errSQLUsage)
	}
	if !st.ReadOnly() {
		// A write with RETURNING: it belongs to the event's transaction.
		if err := db.queryWritable(ctx); err != nil {
			db.release(st, cached)
			return nil, err
		}
	}
	if err := bindAll(st, args); err != nil {
		db.release(st, cached)
		return nil, db.wrap("query", err)
	}
	r := &Rows{db: db, st: st, cached: cached, cols: columns(st)}
	db.rows[r] = struct{}{}
	return r, nil
}

// queryWritable opens the transaction for a writing Query. Outside events and
// transactions there is no commit point after the rows are read, so it is
// refused there.
func (db *DB) queryWritable(ctx context.Context) error {
	if !db.inEvent && db.depth == 0 {
		return fmt.Errorf("sql: %w: a writing Query (RETURNING) needs an event or a Transaction; use Exec", errSQLUsage)
	}
	db.user = false
	defer func() { db.user = true }()
	done, err := db.writable(ctx)
	if err != nil {
		return err
	}
	return done(nil)
}

func (db *DB) prepareUser(query string) (st *sqlite3.Stmt, tail string, cached bool, err error) {
	if st := db.userStmts.take(query); st != nil {
		return st, "", true, nil
	}
	st, tail, err = db.conn.Prepare(query)
	if err != nil {
		return nil, "", false, db.wrap("prepare", err)
	}
	return st, tail, strings.TrimSpace(tail) == "" && st != nil, nil
}

// release resets a statement and returns it to the cache, or closes it.
func (db *DB) release(st *sqlite3.Stmt, cached bool) {
	st.Reset()
	st.ClearBindings()
	if cached {
		db.userStmts.put(st)
		return
	}
	st.Close()
}

func bindAll(st *sqlite3.Stmt, args []any) error {
	if len(args) != st.BindCount() {
		return fmt.Errorf("sql: %w: statement has %d parameters, got %d arguments", errSQLUsage, st.BindCount(), len(args))
	}
	for i, a := range args {
		if err := bind(st, i+1, a); err != nil {
			return err
		}
	}
	return nil
}

func bind(st *sqlite3.Stmt, i int, a any) error {
	switch v := a.(type) {
	case nil:
		return st.BindNull(i)
	case int:
		return st.BindInt64(i, int64(v))
	case int8:
		return st.BindInt64(i, int64(v))
	case int16:
		return st.BindInt64(i, int64(v))
	case int32:
		return st.BindInt64(i, int64(v))
	case int64:
		return st.BindInt64(i, v)
	case uint8:
		return st.BindInt64(i, int64(v))
	case uint16:
		return st.BindInt64(i, int64(v))
	case uint32:
		return st.BindInt64(i, int64(v))
	case uint:
		return st.BindInt64(i, int64(v))
	case uint64:
		return st.BindInt64(i, int64(v))
	case float32:
		return st.BindFloat(i, float64(v))
	case float64:
		return st.BindFloat(i, v)
	case bool:
		return st.BindBool(i, v)
	case string:
		return st.BindText(i, v)
	case []byte:
		if v == nil {
			return st.BindNull(i)
		}
		return st.BindBlob(i, v)
	case time.Time:
		return st.BindText(i, v.UTC().Format(time.RFC3339Nano))
	}
	return fmt.Errorf("sql: %w: argument %d has unsupported type %T", errSQLUsage, i, a)
}

func columns(st *sqlite3.Stmt) []string {
	cols := make([]string, st.ColumnCount())
	for i := range cols {
		cols[i] = st.ColumnName(i)
	}
	return cols
}

// stmtCache keeps prepared user statements by SQL text, least recently used
// out first. A statement in use is taken out, so two open Rows of the same
// query never share one.
type stmtCache struct {
	max   int
	order []*sqlite3.Stmt
}

func newStmtCache(max int) *stmtCache { return &stmtCache{max: max} }

func (c *stmtCache) take(sql string) *sqlite3.Stmt {
	for i := len(c.order) - 1; i >= 0; i-- {
		if st := c.order[i]; st.SQL() == sql {
			c.order = append(c.order[:i], c.order[i+1:]...)
			return st
		}
	}
	return nil
}

func (c *stmtCache) put(st *sqlite3.Stmt) {
	if len(c.order) == c.max {
		c.order[0].Close()
		c.order = c.order[1:]
	}
	c.order = append(c.order, st)
}

func (c *stmtCache) closeAll() {
	for _, st := range c.order {
		st.Close()
	}
	c.order = nil
}
