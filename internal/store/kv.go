package store

import (
	"context"
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
	defer st.Reset()
	st.BindText(1, key)
	if !st.Step() {
		return nil, false, db.wrap("get", st.Err())
	}
	return st.ColumnBlob(0, []byte{}), true, nil
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
		st.BindText(1, e.Key)
		v := e.Value
		if v == nil {
			v = []byte{}
		}
		st.BindBlob(2, v)
		err := st.Exec()
		st.ClearBindings()
		if err != nil {
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
		st.BindText(1, k)
		if err := st.Exec(); err != nil {
			return n, db.wrap("delete", err)
		}
		n += int(db.conn.Changes())
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
	q := `SELECT key, value FROM _roost_kv WHERE key >= ?1`
	if end != nil {
		q += ` AND key < ?2`
	}
	if opts.Reverse {
		q += ` ORDER BY key DESC`
	} else {
		q += ` ORDER BY key`
	}
	q += ` LIMIT ?3`
	st, err := db.stmt(q)
	if err != nil {
		return nil, err
	}
	defer st.Reset()
	st.BindText(1, start)
	if end != nil {
		st.BindText(2, *end)
	}
	limit := int64(opts.Limit)
	if limit <= 0 {
		limit = -1
	}
	st.BindInt64(3, limit)
	var out []Entry
	for st.Step() {
		out = append(out, Entry{Key: st.ColumnText(0), Value: st.ColumnBlob(1, []byte{})})
	}
	return out, db.wrap("list", st.Err())
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
	st, _, err := db.conn.Prepare(`SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '\_roost\_%' ESCAPE '\' AND type IN ('table', 'view')`)
	if err != nil {
		return db.wrap("delete all", err)
	}
	var drops []string
	for st.Step() {
		drops = append(drops, "DROP "+st.ColumnText(0)+" IF EXISTS "+quoteIdent(st.ColumnText(1)))
	}
	err = st.Err()
	st.Close()
	if err != nil {
		return db.wrap("delete all", err)
	}
	if err := db.execLocked(`PRAGMA defer_foreign_keys=ON`); err != nil {
		return err
	}
	for _, d := range drops {
		if err := db.execLocked(d); err != nil {
			return err
		}
	}
	return db.execLocked(`DELETE FROM _roost_kv`)
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
