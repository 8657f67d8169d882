package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
)

// testClass is the class of the objects the tests open.
const testClass = "thing"

// objID returns the ID of the test object called name.
func objID(name string) ids.ID { return ids.FromName(testClass, name) }

// newStore opens a store on cfg, in a fresh temporary directory unless
// cfg.Dir is set, and closes it when the test ends.
func newStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Store.Close: %v", err)
		}
	})
	return s
}

// openDB opens an object's database, serial like a class's objects by
// default, and closes it when the test ends (before its store).
func openDB(t testing.TB, s *Store, id ids.ID) *DB {
	t.Helper()
	db, err := s.Open(testClass, id)
	if err != nil {
		t.Fatalf("Store.Open(%s): %v", id, err)
	}
	db.SetSerial(true)
	t.Cleanup(func() { db.Close() })
	return db
}

// newDB opens a store on cfg and one object's database in it.
func newTestDB(t testing.TB, cfg Config) (*Store, *DB) {
	t.Helper()
	s := newStore(t, cfg)
	return s, openDB(t, s, objID("obj"))
}

// reopen closes db and opens its object again, as a new activation does.
func reopen(t testing.TB, s *Store, db *DB) *DB {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatalf("DB.Close: %v", err)
	}
	return openDB(t, s, db.ID())
}

// event runs fn as one event of db, ended with ok, and fails the test if
// the event's bookkeeping fails.
func event(t testing.TB, db *DB, ok bool, fn func(ctx context.Context)) {
	t.Helper()
	ctx := t.Context()
	if err := db.BeginEvent(ctx); err != nil {
		t.Fatalf("BeginEvent: %v", err)
	}
	fn(ctx)
	if err := db.EndEvent(ok); err != nil {
		t.Fatalf("EndEvent(%t): %v", ok, err)
	}
}

// commit commits db's batch.
func commit(t testing.TB, db *DB) {
	t.Helper()
	if err := db.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// put stores key=value in one durable event.
func put(t testing.TB, db *DB, key, value string) {
	t.Helper()
	event(t, db, true, func(ctx context.Context) {
		if err := db.Put(ctx, key, []byte(value)); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
	})
	commit(t, db)
}

// get returns the value of key and whether it exists.
func get(t testing.TB, db *DB, key string) (string, bool) {
	t.Helper()
	v, ok, err := db.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return string(v), ok
}

// wantValue fails the test unless key holds want.
func wantValue(t testing.TB, db *DB, key, want string) {
	t.Helper()
	got, ok := get(t, db, key)
	if !ok || got != want {
		t.Fatalf("Get(%q) = %q, %t; want %q, true", key, got, ok, want)
	}
}

// wantMissing fails the test if key exists.
func wantMissing(t testing.TB, db *DB, key string) {
	t.Helper()
	if got, ok := get(t, db, key); ok {
		t.Fatalf("Get(%q) = %q, true; want no value", key, got)
	}
}

// exec runs user SQL outside any event (it commits on its own).
func exec(t testing.TB, ctx context.Context, db *DB, query string, args ...any) Result {
	t.Helper()
	res, err := db.Exec(ctx, query, args...)
	if err != nil {
		t.Fatalf("Exec(%q): %v", query, err)
	}
	return res
}

// queryStrings runs a query of one column and returns its values as text.
func queryStrings(t testing.TB, db *DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("Query(%q): %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("Scan (%q): %v", query, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("Query(%q) rows: %v", query, err)
	}
	return out
}

// queryInt runs a query of one integer.
func queryInt(t testing.TB, db *DB, query string, args ...any) int64 {
	t.Helper()
	rows, err := db.Query(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("Query(%q): %v", query, err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("Query(%q): no row (err %v)", query, rows.Err())
	}
	var n int64
	if err := rows.Scan(&n); err != nil {
		t.Fatalf("Scan (%q): %v", query, err)
	}
	return n
}

// wantIntegrity fails the test unless PRAGMA integrity_check says ok.
func wantIntegrity(t testing.TB, db *DB) {
	t.Helper()
	if got := queryStrings(t, db, "PRAGMA integrity_check"); len(got) != 1 || got[0] != "ok" {
		t.Fatalf("PRAGMA integrity_check = %q, want [ok]", got)
	}
}

// wantCode fails the test unless err has the code want.
func wantCode(t testing.TB, err error, want errcode.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want code %s", want)
	}
	if got := errcode.Of(err); got != want {
		t.Fatalf("errcode.Of(%v) = %s, want %s", err, got, want)
	}
}

// wantExists fails the test unless the object's file existence is want.
func wantExists(t testing.TB, s *Store, id ids.ID, want bool) {
	t.Helper()
	got, err := s.Exists(testClass, id)
	if err != nil {
		t.Fatalf("Exists: %v", err)
	}
	if got != want {
		t.Fatalf("Exists = %t, want %t", got, want)
	}
}

// snapshot returns every regular file beneath dir with the SHA-256 of its
// content, every directory with "dir" and every symlink with its target.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == spareDir {
				return fs.SkipDir // the store's own, changed in the background
			}
			out[rel] = "dir"
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			out[rel] = "symlink to " + target
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}

// diffSnapshots describes how two snapshots differ, or returns "".
func diffSnapshots(before, after map[string]string) string {
	var b strings.Builder
	for p, h := range before {
		switch a, ok := after[p]; {
		case !ok:
			b.WriteString("removed " + p + "\n")
		case a != h:
			b.WriteString("changed " + p + "\n")
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			b.WriteString("added " + p + "\n")
		}
	}
	return b.String()
}

// copyObject copies an object's files, as they are on disk now, into a new
// data directory, as a power loss at this moment would leave them.
func copyObject(t testing.TB, from string, id ids.ID) string {
	t.Helper()
	to := t.TempDir()
	file := Path(testClass, id)
	if err := os.MkdirAll(filepath.Join(to, filepath.Dir(file)), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(filepath.Join(from, file+suffix))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, file+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}
