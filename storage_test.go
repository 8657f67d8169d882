package roost_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/roost-dev/roost"
)

// kvKeys lists the object's keys.
func kvKeys(ctx context.Context, s *roost.Storage, opts *roost.ListOptions) ([]string, error) {
	entries, err := s.List(ctx, opts)
	var keys []string
	for _, e := range entries {
		keys = append(keys, e.Key)
	}
	return keys, err
}

// count returns the number of rows of a table.
func count(ctx context.Context, s *roost.Storage, table string) (int, error) {
	var n int
	err := s.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n)
	return n, err
}

func TestStorage_EventWritesAreAtomic(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	c := registerObj(app, "atomic", nil)
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		s := o.st.Storage()
		if _, err := s.Exec(ctx, `CREATE TABLE t (v TEXT)`); err != nil {
			return err
		}
		return s.Put(ctx, "keep", []byte("1"))
	})
	errFail := errors.New("fail after writing")
	// writeAll makes KV and SQL writes of every kind, then fails if fail.
	writeAll := func(fail bool) script {
		return func(ctx context.Context, o *obj) error {
			s := o.st.Storage()
			if err := s.PutMany(ctx, []roost.Entry{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}}); err != nil {
				return err
			}
			if err := s.Put(ctx, "c", []byte("3")); err != nil {
				return err
			}
			if _, err := s.Delete(ctx, "keep"); err != nil {
				return err
			}
			for _, v := range []string{"x", "y", "z"} {
				if _, err := s.Exec(ctx, `INSERT INTO t (v) VALUES (?)`, v); err != nil {
					return err
				}
			}
			if fail {
				return errFail
			}
			return nil
		}
	}
	// state reads what the object stored.
	state := func(t *testing.T, c *class) (keys []string, rows int) {
		t.Helper()
		c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
			var err error
			if keys, err = kvKeys(ctx, o.st.Storage(), nil); err != nil {
				return err
			}
			rows, err = count(ctx, o.st.Storage(), "t")
			return err
		})
		return keys, rows
	}

	err := c.run(t.Context(), "x", writeAll(true))
	if !errors.Is(err, errFail) {
		t.Fatalf("failing event: error %v, want %v", err, errFail)
	}
	wantCode(t, err, "handler_error")
	if keys, rows := state(t, c); !slices.Equal(keys, []string{"keep"}) || rows != 0 {
		t.Fatalf("after a failed event: keys %q, %d rows; want [keep], 0 rows (none of its writes)", keys, rows)
	}

	c.mustRun(t, "x", writeAll(false))
	if keys, rows := state(t, c); !slices.Equal(keys, []string{"a", "b", "c"}) || rows != 3 {
		t.Fatalf("after a successful event: keys %q, %d rows; want [a b c], 3 rows (all of its writes)", keys, rows)
	}

	// And so they stay after a restart.
	app = app.reopen(t)
	c = registerObj(app, "atomic", nil)
	if keys, rows := state(t, c); !slices.Equal(keys, []string{"a", "b", "c"}) || rows != 3 {
		t.Fatalf("after a restart: keys %q, %d rows; want [a b c], 3 rows", keys, rows)
	}
}

func TestStorage_JSONRoundTrip(t *testing.T) {
	t.Parallel()
	type profile struct {
		Name  string
		Tags  []string
		Score float64
		Admin bool
	}
	app := newApp(t, roost.Config{})
	c := registerObj(app, "json", nil)
	want := profile{Name: "Ada", Tags: []string{"math", "engines"}, Score: 9.5, Admin: true}
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		s := o.st.Storage()
		if err := roost.PutJSON(ctx, s, "profile", want); err != nil {
			return err
		}
		return s.Put(ctx, "not-json", []byte("{"))
	})
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		s := o.st.Storage()
		got, ok, err := roost.GetJSON[profile](ctx, s, "profile")
		if err != nil || !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("GetJSON = %+v, %v, %v; want %+v, true, nil", got, ok, err, want)
		}
		missing, ok, err := roost.GetJSON[profile](ctx, s, "missing")
		if err != nil || ok || !reflect.DeepEqual(missing, profile{}) {
			t.Errorf("GetJSON of a missing key = %+v, %v, %v; want the zero value, false, nil", missing, ok, err)
		}
		if _, _, err := roost.GetJSON[profile](ctx, s, "not-json"); err == nil {
			t.Error("GetJSON of a value that is not JSON: no error")
		}
		if err := roost.PutJSON(ctx, s, "bad", func() {}); err == nil {
			t.Error("PutJSON of a func: no error")
		}
		return nil
	})
}

func TestStorage_ListPrefixReverseLimit(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	c := registerObj(app, "list", nil)
	keys := []string{"a", "user:1", "user:10", "user:2", "user:3", "user;", "v"}
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		for _, k := range slices.Backward(keys) {
			if err := o.st.Storage().Put(ctx, k, []byte("value of "+k)); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		name string
		opts *roost.ListOptions
		want []string
	}{
		{"all", nil, keys},
		{"prefix", &roost.ListOptions{Prefix: "user:"}, []string{"user:1", "user:10", "user:2", "user:3"}},
		{"prefix reverse", &roost.ListOptions{Prefix: "user:", Reverse: true}, []string{"user:3", "user:2", "user:10", "user:1"}},
		{"prefix reverse limit", &roost.ListOptions{Prefix: "user:", Reverse: true, Limit: 2}, []string{"user:3", "user:2"}},
		{"limit", &roost.ListOptions{Limit: 2}, []string{"a", "user:1"}},
		{"range", &roost.ListOptions{Start: "user:1", End: "user:3"}, []string{"user:1", "user:10", "user:2"}},
		{"range and prefix", &roost.ListOptions{Prefix: "user:", Start: "user:2"}, []string{"user:2", "user:3"}},
		{"no match", &roost.ListOptions{Prefix: "zzz"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
				entries, err := o.st.Storage().List(ctx, tt.opts)
				if err != nil {
					return err
				}
				var got []string
				for _, e := range entries {
					got = append(got, e.Key)
					if string(e.Value) != "value of "+e.Key {
						t.Errorf("value of %q = %q", e.Key, e.Value)
					}
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("List(%+v) = %q, want %q", tt.opts, got, tt.want)
				}
				return nil
			})
		})
	}
}

func TestStorage_TransactionRollsBackAloneInsideEvent(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	c := registerObj(app, "tx", nil)
	errInner := errors.New("inner transaction fails")
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		s := o.st.Storage()
		if _, err := s.Exec(ctx, `CREATE TABLE t (v TEXT)`); err != nil {
			return err
		}
		if err := s.Put(ctx, "before", []byte("1")); err != nil {
			return err
		}
		err := s.Transaction(ctx, func(ctx context.Context) error {
			if err := s.Put(ctx, "rolled-back", []byte("1")); err != nil {
				return err
			}
			if _, err := s.Delete(ctx, "before"); err != nil {
				return err
			}
			if _, err := s.Exec(ctx, `INSERT INTO t (v) VALUES ('rolled-back')`); err != nil {
				return err
			}
			return errInner
		})
		if !errors.Is(err, errInner) {
			t.Errorf("Transaction = %v, want %v", err, errInner)
		}
		err = s.Transaction(ctx, func(ctx context.Context) error {
			if _, err := s.Exec(ctx, `INSERT INTO t (v) VALUES ('kept')`); err != nil {
				return err
			}
			return s.Put(ctx, "kept", []byte("1"))
		})
		if err != nil {
			return err
		}
		return s.Put(ctx, "after", []byte("1"))
	})
	app.evictIdle(t) // read back from the file
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		keys, err := kvKeys(ctx, o.st.Storage(), nil)
		if err != nil {
			return err
		}
		var v string
		if err := o.st.Storage().QueryRow(ctx, `SELECT group_concat(v) FROM t`).Scan(&v); err != nil {
			return err
		}
		if want := []string{"after", "before", "kept"}; !slices.Equal(keys, want) || v != "kept" {
			t.Errorf("keys %q, rows %q; want keys %q, rows \"kept\"", keys, v, want)
		}
		return nil
	})
}

func TestStorage_DeleteAllRemovesEverything(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	c := registerObj(app, "wipe", nil)
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		s := o.st.Storage()
		if _, err := s.Exec(ctx, `CREATE TABLE t (v TEXT); CREATE INDEX t_v ON t (v); INSERT INTO t VALUES ('a')`); err != nil {
			return err
		}
		return s.PutMany(ctx, []roost.Entry{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}})
	})
	if files := dbFiles(t, app.Dir); len(files) != 1 {
		t.Fatalf("database files %q, want 1", files)
	}

	// A DeleteAll in a failed event deletes nothing.
	err := c.run(t.Context(), "x", func(ctx context.Context, o *obj) error {
		if err := o.st.Storage().DeleteAll(ctx); err != nil {
			return err
		}
		return errors.New("fail after DeleteAll")
	})
	wantCode(t, err, "handler_error")
	if files := dbFiles(t, app.Dir); len(files) != 1 {
		t.Fatalf("database files %q after a failed DeleteAll, want 1", files)
	}
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		keys, err := kvKeys(ctx, o.st.Storage(), nil)
		if err != nil {
			return err
		}
		n, err := count(ctx, o.st.Storage(), "t")
		if !slices.Equal(keys, []string{"a", "b"}) || n != 1 || err != nil {
			t.Errorf("after a failed DeleteAll: keys %q, %d rows (%v); want [a b], 1 row", keys, n, err)
		}
		return nil
	})

	c.mustRun(t, "x", func(ctx context.Context, o *obj) error { return o.st.Storage().DeleteAll(ctx) })
	if files := dbFiles(t, app.Dir); len(files) != 0 {
		t.Fatalf("database files %q after DeleteAll, want none", files)
	}
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		s := o.st.Storage()
		keys, err := kvKeys(ctx, s, nil)
		if err != nil || len(keys) != 0 {
			t.Errorf("keys after DeleteAll: %q (%v), want none", keys, err)
		}
		if v, ok, err := s.Get(ctx, "a"); ok || err != nil {
			t.Errorf("Get after DeleteAll = %q, %v, %v; want nothing", v, ok, err)
		}
		_, err = count(ctx, s, "t")
		if code := roost.ErrorCode(err); code != "sql_error" || !strings.Contains(err.Error(), "no such table") {
			t.Errorf("query of a table after DeleteAll: %v (code %s), want sql_error: no such table", err, code)
		}
		return s.Put(ctx, "again", []byte("1"))
	})
	if files := dbFiles(t, app.Dir); len(files) != 1 {
		t.Fatalf("database files %q after writing again, want 1", files)
	}
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		keys, err := kvKeys(ctx, o.st.Storage(), nil)
		if !slices.Equal(keys, []string{"again"}) {
			t.Errorf("keys after writing again: %q, want [again]", keys)
		}
		return err
	})
}

// TestStorage_HasTable: an object never written has no table and HasTable
// leaves it without a file; a view or index of that name is not a table.
func TestStorage_HasTable(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	c := registerObj(app, "tables", nil)
	has := func(name string) (got bool) {
		t.Helper()
		c.mustRun(t, "x", func(ctx context.Context, o *obj) (err error) {
			got, err = o.st.Storage().HasTable(ctx, name)
			return err
		})
		return got
	}
	if has("t") {
		t.Fatal("HasTable(t) of an object never written = true")
	}
	if files := dbFiles(t, app.Dir); len(files) != 0 {
		t.Fatalf("database files %q after HasTable on an empty object, want none", files)
	}
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		_, err := o.st.Storage().Exec(ctx, `CREATE TABLE t (v TEXT); CREATE VIEW v AS SELECT v FROM t; CREATE INDEX i ON t (v)`)
		return err
	})
	for name, want := range map[string]bool{"t": true, "v": false, "i": false, "T2": false} {
		if got := has(name); got != want {
			t.Errorf("HasTable(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestStorage_LimitsThroughPublicAPI(t *testing.T) {
	t.Parallel()
	// checkLimits tries each kind of write and read at and over the limits.
	checkLimits := func(t *testing.T, c *class, maxKey, maxValue int) {
		t.Helper()
		key := strings.Repeat("k", maxKey)
		value := make([]byte, maxValue)
		wantLimit := func(what string, err error, limit string, max int) {
			t.Helper()
			var le *roost.LimitError
			if !errors.As(err, &le) {
				t.Errorf("%s: error %v, want a *roost.LimitError", what, err)
				return
			}
			if le.Limit != limit || le.Max != int64(max) {
				t.Errorf("%s: LimitError{Limit: %q, Max: %d}, want %q, %d", what, le.Limit, le.Max, limit, max)
			}
			if code := roost.ErrorCode(err); code != "limit_exceeded" {
				t.Errorf("%s: code %s, want limit_exceeded", what, code)
			}
		}
		c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
			s := o.st.Storage()
			if err := s.Put(ctx, key, value); err != nil {
				t.Errorf("Put at the limits: %v", err)
			}
			wantLimit("Put of a long key", s.Put(ctx, key+"k", nil), "key size", maxKey)
			wantLimit("Put of a large value", s.Put(ctx, "v", append(value, 0)), "value size", maxValue)
			_, _, err := s.Get(ctx, key+"k")
			wantLimit("Get of a long key", err, "key size", maxKey)
			err = s.PutMany(ctx, []roost.Entry{{Key: "small", Value: []byte("1")}, {Key: "large", Value: append(value, 0)}})
			wantLimit("PutMany with a large value", err, "value size", maxValue)
			if _, err := s.Exec(ctx, `CREATE TABLE t (b BLOB)`); err != nil {
				return err
			}
			_, err = s.Exec(ctx, `INSERT INTO t (b) VALUES (?)`, append(value, 0))
			wantLimit("SQL insert of a large blob", err, "value size", maxValue)
			return nil
		})
		c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
			keys, err := kvKeys(ctx, o.st.Storage(), nil)
			if !slices.Equal(keys, []string{key}) {
				t.Errorf("stored keys %d, want only the one at the limit (PutMany is all or nothing)", len(keys))
			}
			return err
		})
	}
	t.Run("configured", func(t *testing.T) {
		t.Parallel()
		app := newApp(t, roost.Config{MaxKeySize: 64, MaxValueSize: 1024})
		checkLimits(t, registerObj(app, "limits", nil), 64, 1024)
	})
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		app := newApp(t, roost.Config{})
		checkLimits(t, registerObj(app, "limits", nil), 2<<10, 2<<20)
	})
	t.Run("gateway", func(t *testing.T) {
		t.Parallel()
		app := newApp(t, roost.Config{MaxKeySize: 64, MaxValueSize: 1024})
		registerObj(app, "limits", map[string]route{
			"/put": func(o *obj, w http.ResponseWriter, r *http.Request) error {
				b, err := io.ReadAll(r.Body)
				if err != nil {
					return err
				}
				return o.st.Storage().Put(r.Context(), r.URL.Query().Get("key"), b)
			},
		})
		srv := serve(t, app)
		if res := do(t, srv, http.MethodPost, "/limits/x/put?key=k", strings.Repeat("v", 1024)); res.status != http.StatusOK {
			t.Fatalf("put at the limit: %d %s", res.status, res.body)
		}
		wantError(t, do(t, srv, http.MethodPost, "/limits/x/put?key=k", strings.Repeat("v", 1025)), http.StatusRequestEntityTooLarge, "limit_exceeded")
		wantError(t, do(t, srv, http.MethodPost, "/limits/x/put?key="+strings.Repeat("k", 65), "v"), http.StatusRequestEntityTooLarge, "limit_exceeded")
	})
}

func TestStorage_SQLRefusesEscapes(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	outside := t.TempDir()
	tests := []struct {
		name string
		sql  string
		// inEvent is the code of Exec in a serialized event; outside is the
		// code of Query in a concurrent class, which runs outside a
		// transaction. "" accepts any error.
		inEvent, outside string
		// msg, if set, must appear in the error.
		msg string
	}{
		{"attach outside", "ATTACH DATABASE '" + filepath.Join(outside, "evil.db") + "' AS evil", "sql_not_authorized", "sql_not_authorized", ""},
		{"attach in data dir", "ATTACH DATABASE '" + filepath.Join(app.Dir, "evil.db") + "' AS evil", "sql_not_authorized", "sql_not_authorized", ""},
		{"journal mode", "PRAGMA journal_mode=DELETE", "sql_not_authorized", "sql_not_authorized", ""},
		{"synchronous", "PRAGMA synchronous=OFF", "sql_not_authorized", "sql_not_authorized", ""},
		{"locking mode", "PRAGMA locking_mode=NORMAL", "sql_not_authorized", "sql_not_authorized", ""},
		{"writable schema", "PRAGMA writable_schema=ON", "sql_not_authorized", "sql_not_authorized", ""},
		// Inside an event SQLite refuses VACUUM in the transaction; outside
		// one the authorizer refuses its ATTACH. Both are not authorized.
		{"vacuum into outside", "VACUUM INTO '" + filepath.Join(outside, "copy.db") + "'", "sql_not_authorized", "sql_not_authorized", ""},
		{"vacuum into data dir", "VACUUM INTO '" + filepath.Join(app.Dir, "copy.db") + "'", "sql_not_authorized", "sql_not_authorized", ""},
		// SQLite reports the refused function as SQLITE_ERROR; the store
		// still answers sql_not_authorized.
		{"load extension", "SELECT load_extension('x')", "sql_not_authorized", "sql_not_authorized", "not authorized"},
		{"begin", "BEGIN", "sql_not_authorized", "sql_not_authorized", ""},
		{"commit", "COMMIT", "sql_not_authorized", "sql_not_authorized", ""},
		{"write internal table", "INSERT INTO _roost_kv VALUES ('k', x'00')", "sql_not_authorized", "sql_not_authorized", ""},
	}
	check := func(t *testing.T, how string, err error, code, msg string) {
		t.Helper()
		switch {
		case err == nil:
			t.Errorf("%s: no error", how)
		case code != "" && roost.ErrorCode(err) != code:
			t.Errorf("%s: %v (code %s), want code %s", how, err, roost.ErrorCode(err), code)
		case !strings.Contains(err.Error(), msg):
			t.Errorf("%s: %v, want it to contain %q", how, err, msg)
		}
	}
	serial := registerObj(app, "serial", nil)
	concurrent := registerObjWithOptions(app, "concurrent", nil, &roost.ClassOptions{Concurrent: true})
	for _, c := range []*class{serial, concurrent} {
		c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
			_, err := o.st.Storage().Exec(ctx, `CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('data')`)
			return err
		})
	}
	for _, tt := range tests {
		serial.mustRun(t, "x", func(ctx context.Context, o *obj) error {
			_, err := o.st.Storage().Exec(ctx, tt.sql)
			check(t, tt.name+": Exec in an event", err, tt.inEvent, tt.msg)
			return nil
		})
		concurrent.mustRun(t, "x", func(ctx context.Context, o *obj) error {
			rows, err := o.st.Storage().Query(ctx, tt.sql)
			if err == nil {
				rows.Close()
			}
			check(t, tt.name+": Query outside a transaction", err, tt.outside, tt.msg)
			return nil
		})
	}
	closeApp(t, app.App)

	// Nothing was written but the objects' own files, and they are intact
	// and still in WAL mode.
	if entries, err := os.ReadDir(outside); err != nil || len(entries) != 0 {
		t.Errorf("files outside the data directory: %v (%v)", entries, err)
	}
	err := filepath.WalkDir(app.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(app.Dir, path)
		rel = filepath.ToSlash(rel)
		if !strings.HasPrefix(rel, "objects/serial/") && !strings.HasPrefix(rel, "objects/concurrent/") && !strings.HasPrefix(rel, "catalog.") && rel != "roost.lock" {
			t.Errorf("file %s is not beneath objects/<class>/", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files := dbFiles(t, app.Dir)
	if len(files) != 2 {
		t.Fatalf("database files %q, want 2", files)
	}
	for _, f := range files {
		if mode := roost.SQLite3(t, filepath.Join(app.Dir, f), "PRAGMA journal_mode"); mode != "wal" {
			t.Errorf("%s: journal_mode %s, want wal", f, mode)
		}
	}
	if n := roost.CheckIntegrity(t, app.Dir); n != 2 {
		t.Errorf("checked %d files, want 2", n)
	}
}
