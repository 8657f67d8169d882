package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
)

// isolationDB returns a data directory holding two objects with committed
// KV pairs and a table: "victim", closed, and the returned open DB.
func isolationDB(t testing.TB) (dir string, s *Store, db *DB) {
	t.Helper()
	dir = t.TempDir()
	s = newStore(t, Config{Dir: dir})
	victim := openDB(t, s, objID("victim"))
	put(t, victim, "secret", "v")
	exec(t, t.Context(), victim, "CREATE TABLE t (x); INSERT INTO t VALUES (1)")
	if err := victim.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, s, objID("attacker"))
	put(t, db, "mine", "1")
	exec(t, t.Context(), db, "CREATE TABLE t (x); INSERT INTO t VALUES (1)")
	return dir, s, db
}

func TestIsolation_RefusesStatementsOutsideTheSandbox(t *testing.T) {
	t.Parallel()
	dir, s, db := isolationDB(t)
	ctx := t.Context()
	victimFile := Path(testClass, objID("victim"))
	before := snapshot(t, dir)

	const denied = errcode.SQLNotAuthorized
	const anyErr = errcode.Code("")
	tests := []struct {
		name  string
		query string
		want  errcode.Code // anyErr: refused by SQLite itself, any code
	}{
		{name: "attach", query: "ATTACH 'x.db' AS x", want: denied},
		{name: "attach other object", query: "ATTACH '" + victimFile + "' AS v", want: denied},
		{name: "attach uri parent", query: "ATTACH 'file:../other.db' AS o", want: denied},
		{name: "attach absolute", query: "ATTACH '" + filepath.Join(dir, victimFile) + "' AS v", want: denied},
		{name: "attach memory", query: "ATTACH ':memory:' AS m", want: denied},
		{name: "detach", query: "DETACH main", want: denied},
		{name: "vacuum into", query: "VACUUM INTO 'copy.db'", want: denied},
		{name: "vacuum into parent", query: "VACUUM INTO '../copy.db'", want: denied},
		{name: "vacuum", query: "VACUUM", want: denied},
		{name: "load_extension", query: "SELECT load_extension('/tmp/x.so')", want: anyErr},
		{name: "readfile", query: "SELECT readfile('/etc/passwd')", want: anyErr},
		{name: "writefile", query: "SELECT writefile('x.db', 'x')", want: anyErr},
		{name: "journal_mode", query: "PRAGMA journal_mode=DELETE", want: denied},
		{name: "journal_mode read", query: "PRAGMA journal_mode", want: denied},
		{name: "synchronous", query: "PRAGMA synchronous=OFF", want: denied},
		{name: "locking_mode", query: "PRAGMA main.locking_mode=NORMAL", want: denied},
		{name: "writable_schema", query: "PRAGMA writable_schema=ON", want: denied},
		{name: "max_page_count", query: "PRAGMA max_page_count=1", want: denied},
		{name: "page_size set", query: "PRAGMA page_size=512", want: denied},
		{name: "wal_checkpoint", query: "PRAGMA wal_checkpoint(TRUNCATE)", want: denied},
		{name: "foreign_keys", query: "PRAGMA foreign_keys=OFF", want: denied},
		{name: "trusted_schema", query: "PRAGMA trusted_schema=ON", want: denied},
		{name: "pragma function", query: "SELECT * FROM pragma_journal_mode", want: denied},
		{name: "pragma function arg", query: "SELECT * FROM pragma_journal_mode('delete')", want: anyErr},
		{name: "begin", query: "BEGIN", want: denied},
		{name: "commit", query: "COMMIT", want: denied},
		{name: "end", query: "END", want: denied},
		{name: "rollback", query: "ROLLBACK", want: denied},
		{name: "savepoint", query: "SAVEPOINT s", want: denied},
		{name: "release", query: "RELEASE ev", want: denied},
		{name: "read kv", query: "SELECT * FROM _roost_kv", want: denied},
		{name: "read kv upper case", query: "SELECT key FROM _ROOST_KV", want: denied},
		{name: "read kv count", query: "SELECT count(*) FROM main._roost_kv", want: denied},
		{name: "insert kv", query: "INSERT INTO _roost_kv VALUES ('k', x'00')", want: denied},
		{name: "update kv", query: "UPDATE _roost_kv SET value = x''", want: denied},
		{name: "delete kv", query: "DELETE FROM _roost_kv", want: denied},
		{name: "drop kv", query: "DROP TABLE _roost_kv", want: denied},
		{name: "alter kv", query: "ALTER TABLE _roost_kv ADD COLUMN x", want: denied},
		{name: "index on kv", query: "CREATE INDEX i ON _roost_kv (value)", want: denied},
		{name: "trigger on kv", query: "CREATE TRIGGER tr AFTER INSERT ON _roost_kv BEGIN SELECT 1; END", want: denied},
		{name: "view of kv", query: "CREATE VIEW v AS SELECT * FROM _roost_kv; SELECT * FROM v", want: denied},
		{name: "trigger writing kv", query: "CREATE TRIGGER tw AFTER INSERT ON t BEGIN INSERT INTO _roost_kv VALUES ('k', x''); END; INSERT INTO t VALUES (2)", want: denied},
		{name: "internal name", query: "CREATE TABLE _roost_mine (x)", want: denied},
		{name: "virtual table", query: "CREATE VIRTUAL TABLE v USING fts5 (x)", want: anyErr},
		{name: "schema write", query: "UPDATE sqlite_schema SET sql = 'x'", want: anyErr},
		{name: "temp schema table", query: "CREATE TABLE temp.x AS SELECT * FROM _roost_kv", want: denied},
	}
	t.Run("exec", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				_, err := db.Exec(ctx, tt.query)
				if err == nil {
					t.Fatalf("Exec(%q) succeeded, want it refused", tt.query)
				}
				if tt.want != anyErr {
					wantCode(t, err, tt.want)
				}
			})
		}
	})
	t.Run("query", func(t *testing.T) {
		for _, q := range []string{"SELECT * FROM _roost_kv", "SELECT * FROM pragma_journal_mode", "PRAGMA synchronous", "SELECT load_extension('x')"} {
			rows, err := db.Query(ctx, q)
			if err == nil {
				for rows.Next() {
				}
				err = rows.Close()
			}
			if err == nil {
				t.Errorf("Query(%q) succeeded, want it refused", q)
			}
		}
	})
	// After every attempt: nothing else in the data directory changed, and
	// the object's own data is intact.
	{
		wantValue(t, db, "mine", "1")
		if got := queryStrings(t, db, "SELECT x FROM t"); !slices.Equal(got, []string{"1"}) {
			t.Errorf("t = %q, want [1]", got)
		}
		wantIntegrity(t, db)
		after := snapshot(t, dir)
		for p := range after {
			if strings.Contains(p, objID("attacker").String()) {
				delete(after, p) // the attacker's own files may change
			}
		}
		for p := range before {
			if strings.Contains(p, objID("attacker").String()) {
				delete(before, p)
			}
		}
		if d := diffSnapshots(before, after); d != "" {
			t.Errorf("data directory changed:\n%s", d)
		}
		victim := openDB(t, s, objID("victim"))
		wantValue(t, victim, "secret", "v")
		wantIntegrity(t, victim)
	}
}

func TestIsolation_AllowedPragmasWork(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	ctx := t.Context()
	exec(t, ctx, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
	if got := queryStrings(t, db, "SELECT name FROM pragma_table_info('t') ORDER BY cid"); !slices.Equal(got, []string{"id", "name"}) {
		t.Fatalf("pragma_table_info = %q, want [id name]", got)
	}
	rows, err := db.Query(ctx, "PRAGMA table_info(t)")
	if err != nil {
		t.Fatalf("PRAGMA table_info: %v", err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Close(); err != nil || n != 2 {
		t.Fatalf("PRAGMA table_info: %d rows, %v; want 2", n, err)
	}
	exec(t, ctx, db, "PRAGMA user_version = 7")
	db = reopen(t, s, db)
	if v := queryInt(t, db, "PRAGMA user_version"); v != 7 {
		t.Fatalf("user_version = %d, want 7", v)
	}
	wantIntegrity(t, db)
	if got := queryStrings(t, db, "PRAGMA quick_check"); !slices.Equal(got, []string{"ok"}) {
		t.Fatalf("quick_check = %q", got)
	}
	if n := queryInt(t, db, "PRAGMA page_size"); n != 4096 {
		t.Fatalf("page_size = %d, want 4096", n)
	}
	if n := queryInt(t, db, "PRAGMA page_count"); n < 2 {
		t.Fatalf("page_count = %d", n)
	}
}

var pathShape = regexp.MustCompile(`^objects/[a-z][a-z0-9_-]{0,62}/([0-9a-f]{2})/([0-9a-f]{64})\.db$`)

func TestIsolation_PathHasFixedShape(t *testing.T) {
	t.Parallel()
	var zero ids.ID
	for _, class := range []string{"a", "chat-room", "x_1", strings.Repeat("z", ids.MaxClassLen)} {
		for _, id := range []ids.ID{ids.FromName(class, "../../etc/passwd"), ids.FromName(class, "/"), ids.New(), zero} {
			p := Path(class, id)
			m := pathShape.FindStringSubmatch(p)
			if m == nil || m[2] != id.String() || m[1] != m[2][:2] || !strings.HasPrefix(p, "objects/"+class+"/") {
				t.Fatalf("Path(%q, %s) = %q, want objects/<class>/<2 hex>/<64 hex>.db", class, id, p)
			}
		}
	}
}

func TestIsolation_OpenRefusesInvalidClass(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	s := newStore(t, Config{Dir: dir})
	before := snapshot(t, base)
	for _, class := range []string{"", "..", "../x", "a/b", "a/../../x", "/etc", "A", "a.b", "a\x00", "_roost", "admin", strings.Repeat("a", 64)} {
		db, err := s.Open(class, objID("x"))
		if err == nil {
			db.Close()
			t.Fatalf("Open(%q) succeeded, want an invalid class error", class)
		}
		if !errors.Is(err, ids.ErrInvalidClass) {
			t.Fatalf("Open(%q) = %v, want ids.ErrInvalidClass", class, err)
		}
	}
	if d := diffSnapshots(before, snapshot(t, base)); d != "" {
		t.Fatalf("files changed:\n%s", d)
	}
}

// A second store on a data directory that a store holds (a second server
// process, or a second app in this one) fails at once and changes nothing;
// the first one is unaffected.
func TestIsolation_SecondStoreOnTheSameDirectoryFailsAndTouchesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	id := objID("held")
	db := openDB(t, first, id)
	put(t, db, "a", "1")
	before := snapshot(t, dir)

	second, err := Open(Config{Dir: dir})
	if err == nil {
		second.Close()
		t.Fatal("a second store opened a data directory the first holds")
	}
	if !errors.Is(err, ErrDirInUse) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second Open = %v, want ErrDirInUse naming pid %d", err, os.Getpid())
	}
	wantCode(t, err, errcode.Conflict)
	if d := diffSnapshots(before, snapshot(t, dir)); d != "" {
		t.Fatalf("the failed Open changed files:\n%s", d)
	}
	put(t, db, "b", "2") // the holder is unaffected
	wantValue(t, db, "a", "1")

	// Once the first closes, the directory opens again, with its data.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again := newStore(t, Config{Dir: dir})
	other := openDB(t, again, id)
	wantValue(t, other, "b", "2")
	wantIntegrity(t, other)
}

func TestIsolation_ObjectsAreSeparateFiles(t *testing.T) {
	t.Parallel()
	s := newStore(t, Config{})
	a := openDB(t, s, objID("a"))
	b := openDB(t, s, objID("b"))
	put(t, a, "k", "a")
	exec(t, t.Context(), a, "CREATE TABLE t (x)")
	put(t, b, "k", "b")
	wantValue(t, a, "k", "a")
	wantValue(t, b, "k", "b")
	event(t, b, true, func(ctx context.Context) {
		if err := b.DeleteAll(ctx); err != nil {
			t.Fatal(err)
		}
	})
	commit(t, b)
	wantValue(t, a, "k", "a")
	if n := queryInt(t, a, "SELECT count(*) FROM t"); n != 0 {
		t.Fatalf("rows = %d", n)
	}
	wantExists(t, s, objID("b"), false)
	wantExists(t, s, objID("a"), true)
	if _, err := os.Stat(filepath.Join(s.cfg.Dir, Path(testClass, objID("a")))); err != nil {
		t.Fatalf("object a's file: %v", err)
	}
}
