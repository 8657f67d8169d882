package store

import (
	"context"
	"database/sql/driver"
	"io"
	"slices"
)

// Entry is one KV pair.
type Entry struct {
	Key   string
	Value []byte
}

// ListOptions selects a range of keys. The zero value lists every key in
// ascending order.
type ListOptions struct {
	// Prefix keeps only keys that start with it.
	Prefix string
	// Start is the first key (inclusive); End the key after the last
	// (exclusive). Empty means unbounded.
	Start, End string
	// Reverse lists in descending order.
	Reverse bool
	// Limit is the most entries to return; 0 means no limit.
	Limit int
}

func (db *DB) checkKey(key string) error {
	if len(key) > db.s.cfg.MaxKeySize {
		return &LimitError{Limit: "key size", Max: int64(db.s.cfg.MaxKeySize), Got: int64(len(key))}
	}
	return nil
}

func (db *DB) checkValue(v []byte) error {
	if len(v) > db.s.cfg.MaxValueSize {
		return &LimitError{Limit: "value size", Max: int64(db.s.cfg.MaxValueSize), Got: int64(len(v))}
	}
	return nil
}

// Get returns the value of key, and false if there is none.
func (db *DB) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := db.checkKey(key); err != nil {
		return nil, false, err
	}
	defer db.lock(ctx)()
	ok, err := db.readable(ctx)
	if !ok || err != nil {
		return nil, false, err
	}
	st, err := db.stmt(`SELECT value FROM _roost_kv WHERE key = ?`)
	if err != nil {
		return nil, false, err
	}
	rows, err := st.Query([]driver.Value{key})
	if err != nil {
		return nil, false, db.wrap("get", err)
	}
	defer rows.Close()
	v := make([]driver.Value, 1)
	switch err := rows.Next(v); {
	case err == io.EOF:
		return nil, false, nil
	case err != nil:
		return nil, false, db.wrap("get", err)
	}
	b, _ := v[0].([]byte)
	if b == nil {
		b = []byte{}
	}
	return b, true, nil
}

// GetMany returns the values of the keys that exist.
func (db *DB) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		v, ok, err := db.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if ok {
			out[k] = v
		}
	}
	return out, nil
}

// Put stores value under key.
func (db *DB) Put(ctx context.Context, key string, value []byte) error {
	return db.PutMany(ctx, []Entry{{key, value}})
}

// PutMany stores every entry, atomically.
func (db *DB) PutMany(ctx context.Context, entries []Entry) error {
	for _, e := range entries {
		if err := db.checkKey(e.Key); err != nil {
			return err
		}
		if err := db.checkValue(e.Value); err != nil {
			return err
		}
	}
	defer db.lock(ctx)()
	done, err := db.writable(ctx)
	if err != nil {
		return err
	}
	return done(db.putLocked(entries))
}

func (db *DB) putLocked(entries []Entry) error {
	st, err := db.stmt(`INSERT INTO _roost_kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
	if err != nil {
		return err
	}
	for _, e := range entries {
		v := e.Value
		if v == nil {
			v = []byte{}
		}
		if _, err := st.Exec([]driver.Value{e.Key, v}); err != nil {
			return db.wrap("put", err)
		}
	}
	return nil
}

// Delete removes key and reports whether it existed.
func (db *DB) Delete(ctx context.Context, key string) (bool, error) {
	n, err := db.DeleteMany(ctx, []string{key})
	return n > 0, err
}

// DeleteMany removes the keys, atomically, and returns how many existed.
func (db *DB) DeleteMany(ctx context.Context, keys []string) (int, error) {
	defer db.lock(ctx)()
	if ok, err := db.readable(ctx); !ok || err != nil {
		return 0, err
	}
	done, err := db.writable(ctx)
	if err != nil {
		return 0, err
	}
	n, err := db.deleteLocked(keys)
	return n, done(err)
}

func (db *DB) deleteLocked(keys []string) (int, error) {
	st, err := db.stmt(`DELETE FROM _roost_kv WHERE key = ?`)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		res, err := st.Exec([]driver.Value{k})
		if err != nil {
			return n, db.wrap("delete", err)
		}
		c, _ := res.RowsAffected()
		n += int(c)
	}
	return n, nil
}

// List returns the entries in the range of opts, in key order (byte-wise).
func (db *DB) List(ctx context.Context, opts ListOptions) ([]Entry, error) {
	start, end, empty := bounds(opts)
	if empty {
		return nil, nil
	}
	defer db.lock(ctx)()
	ok, err := db.readable(ctx)
	if !ok || err != nil {
		return nil, err
	}
	q := `SELECT key, value FROM _roost_kv WHERE key >= ?`
	args := []driver.Value{start}
	if end != nil {
		q += ` AND key < ?`
		args = append(args, *end)
	}
	if opts.Reverse {
		q += ` ORDER BY key DESC`
	} else {
		q += ` ORDER BY key`
	}
	limit := int64(opts.Limit)
	if limit <= 0 {
		limit = -1
	}
	q += ` LIMIT ?`
	args = append(args, limit)
	st, err := db.stmt(q)
	if err != nil {
		return nil, err
	}
	rows, err := st.Query(args)
	if err != nil {
		return nil, db.wrap("list", err)
	}
	defer rows.Close()
	var out []Entry
	v := make([]driver.Value, 2)
	for {
		err := rows.Next(v)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, db.wrap("list", err)
		}
		k, _ := v[0].(string)
		b, _ := v[1].([]byte)
		if b == nil {
			b = []byte{}
		}
		out = append(out, Entry{Key: k, Value: b})
	}
}

// bounds turns opts into a half-open key range [start, end); end nil means
// unbounded. empty reports a range that holds no key.
func bounds(opts ListOptions) (start string, end *string, empty bool) {
	start = max(opts.Start, opts.Prefix)
	if opts.End != "" {
		e := opts.End
		end = &e
	}
	if pe, ok := prefixEnd(opts.Prefix); ok && (end == nil || pe < *end) {
		end = &pe
	}
	return start, end, end != nil && start >= *end
}

// prefixEnd is the smallest string greater than every string with prefix p;
// false if there is none (p empty or all 0xff bytes).
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(slices.Clip(b[:i+1])), true
		}
	}
	return "", false
}

// DeleteAll removes everything the object stored: KV pairs and SQL tables,
// indexes, views and triggers. When the event commits, the files are deleted:
// the object has no storage until it writes again. A later write in the same
// batch keeps the (now empty) file.
func (db *DB) DeleteAll(ctx context.Context) error {
	defer db.lock(ctx)()
	if ok, err := db.readable(ctx); !ok || err != nil {
		return err
	}
	done, err := db.writable(ctx)
	if err != nil {
		return err
	}
	err = db.dropAllLocked()
	if err == nil {
		db.deleted = true
	}
	return done(err)
}

func (db *DB) dropAllLocked() error {
	rows, err := db.conn.Query(`SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '\_roost\_%' ESCAPE '\' AND type IN ('table', 'view')`, nil)
	if err != nil {
		return db.wrap("delete all", err)
	}
	var drops []string
	v := make([]driver.Value, 2)
	for rows.Next(v) == nil {
		typ, _ := v[0].(string)
		name, _ := v[1].(string)
		drops = append(drops, "DROP "+typ+" IF EXISTS "+quoteIdent(name))
	}
	rows.Close()
	if err := db.execLocked(`PRAGMA defer_foreign_keys=ON`); err != nil {
		return err
	}
	// The drops are the user's: a dropped table's foreign keys cascade
	// into the user's tables and fire their triggers, under the user's
	// rules.
	for _, d := range drops {
		err := db.runUser(d, func() error {
			_, err := db.conn.Exec(d, nil)
			return err
		})
		if err != nil {
			return db.wrap("delete all", err)
		}
	}
	if err := db.execLocked(`DELETE FROM _roost_kv`); err != nil {
		return err
	}
	return db.clearTimersLocked()
}

func quoteIdent(s string) string {
	out := []byte{'"'}
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			out = append(out, '"')
		}
		out = append(out, s[i])
	}
	return string(append(out, '"'))
}
