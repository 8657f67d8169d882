package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/roost-dev/roost/internal/errcode"
)

// sqliteShell runs the sqlite3 command-line shell on file and returns its
// output. The shell is a dependency of these tests: its absence fails them.
func sqliteShell(t testing.TB, file, sql string) string {
	t.Helper()
	bin, err := osexec.LookPath("sqlite3")
	if err != nil {
		t.Fatalf("the sqlite3 shell is needed to check exported files: %v", err)
	}
	out, err := osexec.Command(bin, file, sql).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s %q: %v\n%s", file, sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// makeSQLite creates a SQLite database file at path with the driver and
// runs sql in it.
func makeSQLite(t testing.TB, path, sql string) {
	t.Helper()
	c, err := openPlain(path, false)
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	defer c.Close()
	if _, err := c.Exec(sql, nil); err != nil {
		t.Fatalf("%s: %q: %v", path, sql, err)
	}
}

// fillObject gives db two KV pairs and table t with three rows, committed.
func fillObject(t testing.TB, db *DB) {
	t.Helper()
	put(t, db, "a", "1")
	put(t, db, "b", "2")
	exec(t, t.Context(), db, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t (name) VALUES ('x'), ('y'), ('z')")
}

// wantFilled fails the test unless db holds what fillObject wrote.
func wantFilled(t testing.TB, db *DB) {
	t.Helper()
	wantValue(t, db, "a", "1")
	wantValue(t, db, "b", "2")
	if got := queryStrings(t, db, "SELECT name FROM t ORDER BY id"); !slices.Equal(got, []string{"x", "y", "z"}) {
		t.Fatalf("t = %q, want [x y z]", got)
	}
}

// export exports db into a new file in a temporary directory.
func export(t testing.TB, db *DB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "export.db")
	if err := db.Export(t.Context(), path); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return path
}

// wantNoFile fails the test if path exists.
func wantNoFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat %s: %v, want no such file", path, err)
	}
}

// objectSnapshot snapshots the object files of a data directory.
func objectSnapshot(t testing.TB, s *Store) map[string]string {
	t.Helper()
	return snapshot(t, filepath.Join(s.Config().Dir, objectsDir))
}

func TestAdmin_ExportOpensInSQLiteShellAsOneFile(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	fillObject(t, db)
	before := objectSnapshot(t, s)
	path := export(t, db)
	if d := diffSnapshots(before, objectSnapshot(t, s)); d != "" {
		t.Fatalf("Export changed the object's files:\n%s", d)
	}
	wantNoFile(t, path+"-wal")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b[18] != 1 || b[19] != 1 {
		t.Fatalf("header format bytes = %d %d, want 1 1 (rollback journal, not WAL)", b[18], b[19])
	}
	got := sqliteShell(t, path, "PRAGMA integrity_check; PRAGMA journal_mode; SELECT count(*) FROM t; SELECT group_concat(key || '=' || CAST(value AS TEXT)) FROM _roost_kv;")
	if want := "ok\ndelete\n3\na=1,b=2"; got != want {
		t.Fatalf("sqlite3 shell said %q, want %q", got, want)
	}
	wantNoFile(t, path+"-wal")
	wantFilled(t, db)
}

func TestAdmin_ExportIncludesCommittedDataStillInWAL(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	fillObject(t, db)
	// The database file alone, without its WAL, does not have table t yet.
	dbFile := filepath.Join(t.TempDir(), "main-only.db")
	b, err := os.ReadFile(filepath.Join(s.Config().Dir, db.path))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dbFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := sqliteShell(t, dbFile, "SELECT count(*) FROM sqlite_schema WHERE name = 't'"); got != "0" {
		t.Fatalf("table t is in the database file already (%s): the test needs it in the WAL", got)
	}
	path := export(t, db)
	if got := sqliteShell(t, path, "SELECT count(*) FROM t; SELECT count(*) FROM _roost_kv"); got != "3\n2" {
		t.Fatalf("exported counts = %q, want 3 rows of t and 2 KV pairs", got)
	}
}

func TestAdmin_ExportRefusesExistingPath(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	fillObject(t, db)
	path := filepath.Join(t.TempDir(), "taken.db")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := db.Export(t.Context(), path); !errors.Is(err, os.ErrExist) {
		t.Fatalf("Export to an existing file: %v, want os.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Fatalf("existing file now holds %q", b)
	}
}

func TestAdmin_ObjectWithoutStorage(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "none.db")
	err := db.Export(ctx, path)
	if !errors.Is(err, ErrNoStorage) {
		t.Fatalf("Export: %v, want ErrNoStorage", err)
	}
	wantCode(t, err, errcode.NotFound)
	wantNoFile(t, path)
	_, err = db.AdminQuery(ctx, "SELECT 1", nil, false, 0)
	if !errors.Is(err, ErrNoStorage) {
		t.Fatalf("read-only AdminQuery: %v, want ErrNoStorage", err)
	}
	if n, err := db.Size(); n != 0 || err != nil {
		t.Fatalf("Size = %d, %v; want 0, nil", n, err)
	}
	if tables, err := db.Tables(ctx); len(tables) != 0 || err != nil {
		t.Fatalf("Tables = %v, %v; want none", tables, err)
	}
	if db.Exists() {
		t.Fatal("Exists = true, want false")
	}
	put(t, db, "k", "v")
	if !db.Exists() {
		t.Fatal("Exists after Put = false, want true")
	}
	n, err := db.Size()
	if err != nil || n != queryInt(t, db, "PRAGMA page_count")*4096 || n == 0 {
		t.Fatalf("Size = %d, %v; want page_count × 4096", n, err)
	}
}

func TestAdmin_RefusedWhileBatchIsOpen(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	fillObject(t, db)
	ctx := t.Context()
	src := export(t, db)
	event(t, db, true, func(ctx context.Context) {
		if err := db.Put(ctx, "pending", []byte("1")); err != nil {
			t.Fatal(err)
		}
	})
	calls := map[string]error{
		"Export": db.Export(ctx, filepath.Join(t.TempDir(), "x.db")),
		"Import": db.Import(ctx, src, true),
	}
	_, calls["Tables"] = db.Tables(ctx)
	_, calls["AdminQuery"] = db.AdminQuery(ctx, "SELECT 1", nil, false, 0)
	_, calls["Size"] = db.Size()
	for name, err := range calls {
		if !errors.Is(err, errBatchOpen) {
			t.Errorf("%s with a batch open: %v, want errBatchOpen", name, err)
		}
	}
	commit(t, db)
	wantValue(t, db, "pending", "1")
}

func TestAdmin_ImportIntoEmptyObjectRoundTrips(t *testing.T) {
	t.Parallel()
	s := newStore(t, Config{})
	from := openDB(t, s, objID("from"))
	fillObject(t, from)
	exec(t, t.Context(), from, "CREATE INDEX t_name ON t (name); CREATE VIEW v AS SELECT name FROM t")
	src := export(t, from)
	srcBytes, _ := os.ReadFile(src)

	to := openDB(t, s, objID("to"))
	if err := to.Import(t.Context(), src, false); err != nil {
		t.Fatalf("Import: %v", err)
	}
	if b, _ := os.ReadFile(src); !bytes.Equal(b, srcBytes) {
		t.Fatal("Import changed its source file")
	}
	wantFilled(t, to)
	wantTables(t, to, tablesOf(t, from))
	wantKV(t, to, listAll(t, from))
	wantConnectionSettings(t, s, to)

	put(t, to, "c", "3")
	exec(t, t.Context(), to, "INSERT INTO t (name) VALUES ('w')")
	to = reopen(t, s, to)
	wantValue(t, to, "c", "3")
	if n := queryInt(t, to, "SELECT count(*) FROM t"); n != 4 {
		t.Fatalf("rows of t after reopen = %d, want 4", n)
	}
	wantIntegrity(t, to)
}

// wantConnectionSettings fails the test unless db's file is in WAL mode and
// its connection keeps the settings configure gave it.
func wantConnectionSettings(t testing.TB, s *Store, db *DB) {
	t.Helper()
	db.mu.Lock()
	defer db.mu.Unlock()
	want := map[string]int64{
		"foreign_keys": 1, "synchronous": 2, "trusted_schema": 0, "temp_store": 2, "query_only": 0,
		"journal_size_limit": 4194304, "max_page_count": s.Config().MaxDatabaseSize / 4096, "application_id": applicationID,
		"page_size": 4096,
	}
	for name, v := range want {
		if got, err := selectInt(db.conn, "PRAGMA "+name); err != nil || got != v {
			t.Errorf("PRAGMA %s = %d, %v; want %d", name, got, err, v)
		}
	}
	for name, v := range map[string]string{"journal_mode": "wal", "locking_mode": "exclusive"} {
		if got, err := selectText(db.conn, "PRAGMA "+name); err != nil || got != v {
			t.Errorf("PRAGMA %s = %q, %v; want %q", name, got, err, v)
		}
	}
}

func tablesOf(t testing.TB, db *DB) []TableInfo {
	t.Helper()
	tables, err := db.Tables(t.Context())
	if err != nil {
		t.Fatalf("Tables: %v", err)
	}
	return tables
}

func wantTables(t testing.TB, db *DB, want []TableInfo) {
	t.Helper()
	if got := tablesOf(t, db); !reflect.DeepEqual(got, want) {
		t.Fatalf("Tables = %+v, want %+v", got, want)
	}
}

func listAll(t testing.TB, db *DB) []Entry {
	t.Helper()
	entries, err := db.List(t.Context(), ListOptions{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return entries
}

func wantKV(t testing.TB, db *DB, want []Entry) {
	t.Helper()
	if got := listAll(t, db); !reflect.DeepEqual(got, want) {
		t.Fatalf("KV = %q, want %q", got, want)
	}
}

func TestAdmin_ImportRefusesObjectWithDataUnlessForced(t *testing.T) {
	t.Parallel()
	s := newStore(t, Config{})
	from := openDB(t, s, objID("from"))
	put(t, from, "new", "1")
	src := export(t, from)
	tests := []struct {
		name string
		fill func(t *testing.T, db *DB)
	}{
		{"kv pair", func(t *testing.T, db *DB) { put(t, db, "old", "1") }},
		{"table", func(t *testing.T, db *DB) { exec(t, t.Context(), db, "CREATE TABLE old (x)") }},
		{"pending timer", func(t *testing.T, db *DB) {
			exec(t, t.Context(), db, "CREATE TABLE scratch (x)") // creates the file
			exec(t, t.Context(), db, "DROP TABLE scratch")
			db.mu.Lock()
			_, err := db.conn.Exec(`CREATE TABLE IF NOT EXISTS _roost_timers (name TEXT PRIMARY KEY, kind TEXT NOT NULL, due INTEGER NOT NULL, scheduled INTEGER NOT NULL);
				INSERT INTO _roost_timers (name, kind, due, scheduled) VALUES ('t', 'timer', 1, 1)`, nil)
			db.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openDB(t, s, objID("to-"+tt.name))
			tt.fill(t, db)
			before := objectSnapshot(t, s)
			err := db.Import(t.Context(), src, false)
			wantCode(t, err, errcode.Conflict)
			if !strings.Contains(err.Error(), "use force") {
				t.Fatalf("Import error %q does not tell to use force", err)
			}
			if d := diffSnapshots(before, objectSnapshot(t, s)); d != "" {
				t.Fatalf("refused Import changed files:\n%s", d)
			}
			if err := db.Import(t.Context(), src, true); err != nil {
				t.Fatalf("Import with force: %v", err)
			}
			wantKV(t, db, []Entry{{"new", []byte("1")}})
			wantTables(t, db, nil)
		})
	}
}

func TestAdmin_ImportIntoObjectWhoseDataWasDeleted(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	fillObject(t, db)
	src := export(t, db)
	exec(t, t.Context(), db, "DROP TABLE t")
	event(t, db, true, func(ctx context.Context) {
		if _, err := db.DeleteMany(ctx, []string{"a", "b"}); err != nil {
			t.Fatal(err)
		}
	})
	commit(t, db)
	wantExists(t, s, db.ID(), true)
	if err := db.Import(t.Context(), src, false); err != nil {
		t.Fatalf("Import into an object whose file holds nothing: %v", err)
	}
	wantFilled(t, db)
}

func TestAdmin_ImportWithForceReplacesEverything(t *testing.T) {
	t.Parallel()
	s := newStore(t, Config{})
	from := openDB(t, s, objID("from"))
	fillObject(t, from)
	src := export(t, from)
	to := openDB(t, s, objID("to"))
	put(t, to, "old", "x")
	exec(t, t.Context(), to, "CREATE TABLE old (x); INSERT INTO old VALUES (1)")
	if err := to.Import(t.Context(), src, true); err != nil {
		t.Fatalf("Import: %v", err)
	}
	to = reopen(t, s, to)
	wantFilled(t, to)
	wantMissing(t, to, "old")
	wantTables(t, to, tablesOf(t, from))
}

func TestAdmin_ImportRefusesBadFilesAndKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	makeSQLite(t, good, "CREATE TABLE big (x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) INSERT INTO big SELECT randomblob(100) FROM n")
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodBytes, _ := os.ReadFile(good)
	corrupt := slices.Clone(goodBytes)
	for i := 4096; i < len(corrupt); i++ {
		corrupt[i] = byte(i * 7)
	}
	sqlFile := func(name, sql string) string {
		p := filepath.Join(dir, name)
		makeSQLite(t, p, sql)
		return p
	}
	tests := []struct {
		name, src, message string
	}{
		{"text file", file("text.db", []byte(strings.Repeat("not a database\n", 100))), "not a SQLite database"},
		{"empty file", file("empty.db", nil), "not a SQLite database"},
		{"truncated header", file("short.db", goodBytes[:50]), "not a SQLite database"},
		{"corrupt pages", file("corrupt.db", corrupt), "integrity"},
		{"page size 8192", sqlFile("p8k.db", "PRAGMA page_size=8192; CREATE TABLE t (x)"), "page size is 8192"},
		{"other kv schema", sqlFile("kv.db", "CREATE TABLE _roost_kv (key, value)"), "_roost_kv"},
		{"trigger on kv", sqlFile("trigger.db", kvSchema+"; CREATE TABLE log (k); CREATE TRIGGER spy AFTER INSERT ON _roost_kv BEGIN INSERT INTO log VALUES (new.key); END"), "reserved"},
		{"index on kv", sqlFile("index.db", kvSchema+"; CREATE INDEX byvalue ON _roost_kv (value)"), "reserved"},
		{"virtual table", sqlFile("vtab.db", "CREATE VIRTUAL TABLE docs USING fts4(body)"), "virtual table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, db := newTestDB(t, Config{})
			fillObject(t, db)
			before := objectSnapshot(t, s)
			err := db.Import(t.Context(), tt.src, true)
			wantCode(t, err, errcode.BadRequest)
			if !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("Import error %q does not say %q", err, tt.message)
			}
			if d := diffSnapshots(before, objectSnapshot(t, s)); d != "" {
				t.Fatalf("refused Import changed files:\n%s", d)
			}
			wantNoStaging(t, s)
			wantFilled(t, reopen(t, s, db))
		})
	}
}

// wantNoStaging fails the test if an import left a staging file behind.
func wantNoStaging(t testing.TB, s *Store) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(s.Config().Dir, ".tmp", "*"))
	if len(left) > 0 {
		t.Fatalf("staging files left behind: %q", left)
	}
}

func TestAdmin_ImportOfFileWithoutKVTableAddsIt(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	src := filepath.Join(t.TempDir(), "plain.db")
	// A WAL-mode file whose WAL was checkpointed away, as the shell leaves it.
	makeSQLite(t, src, "PRAGMA journal_mode=WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)")
	if err := db.Import(t.Context(), src, false); err != nil {
		t.Fatalf("Import: %v", err)
	}
	wantTables(t, db, []TableInfo{{Name: "t", Type: "table", SQL: "CREATE TABLE t (x)", Rows: 2}})
	put(t, db, "k", "v")
	db = reopen(t, s, db)
	wantValue(t, db, "k", "v")
	wantConnectionSettings(t, s, db)
	wantIntegrity(t, db)
}

func TestAdmin_ImportOverDatabaseSizeLimitIsRefused(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{MaxDatabaseSize: 64 << 10})
	src := filepath.Join(t.TempDir(), "big.db")
	makeSQLite(t, src, "CREATE TABLE t (x); INSERT INTO t VALUES (randomblob(100000))")
	err := db.Import(t.Context(), src, false)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "database size" {
		t.Fatalf("Import of a file over the limit: %v, want a database size LimitError", err)
	}
	if db.Exists() {
		t.Fatal("refused Import created the object's file")
	}
}

func TestAdmin_ImportFailingMidCopyKeepsData(t *testing.T) {
	t.Parallel()
	faults, s, db := faultyDB(t)
	src := filepath.Join(t.TempDir(), "src.db")
	makeSQLite(t, src, "CREATE TABLE u (x); INSERT INTO u SELECT randomblob(1000) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3)")
	faults.Fail(OpWrite, "", 1<<20)
	err := db.Import(t.Context(), src, true)
	faults.Clear()
	wantCode(t, err, errcode.StorageFull)
	wantOnlyCommitted(t, db, "u")
	db = reopen(t, s, db)
	wantOnlyCommitted(t, db, "u")
	wantNoStaging(t, s)
}

func TestAdmin_TablesListsUserObjectsWithRowCounts(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	fillObject(t, db)
	exec(t, t.Context(), db, `CREATE TABLE "odd ""name""" (x); INSERT INTO "odd ""name""" VALUES (1);
		CREATE INDEX t_name ON t (name); CREATE VIEW v AS SELECT name FROM t;
		CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN SELECT 1; END`)
	wantTables(t, db, []TableInfo{
		{Name: `odd "name"`, Type: "table", SQL: `CREATE TABLE "odd ""name""" (x)`, Rows: 1},
		{Name: "t", Type: "table", SQL: "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)", Rows: 3},
		{Name: "v", Type: "view", SQL: "CREATE VIEW v AS SELECT name FROM t"},
		{Name: "t_name", Type: "index", SQL: "CREATE INDEX t_name ON t (name)"},
		{Name: "t_ins", Type: "trigger", SQL: "CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN SELECT 1; END"},
	})
}

func TestAdmin_QueryReadsRowsAsJSONValues(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	exec(t, t.Context(), db, "CREATE TABLE t (i INTEGER, f REAL, s TEXT, b BLOB, n)")
	exec(t, t.Context(), db, "INSERT INTO t VALUES (1, 1.5, 'text', x'68690a', NULL), (2, 0, '', x'00ff', 'x')")
	res, err := db.AdminQuery(t.Context(), "SELECT * FROM t WHERE i >= ? ORDER BY i", []any{1}, false, 0)
	if err != nil {
		t.Fatalf("AdminQuery: %v", err)
	}
	want := &QueryResult{
		Columns: []string{"i", "f", "s", "b", "n"},
		Rows: [][]any{
			{int64(1), 1.5, "text", "hi\n", nil},
			{int64(2), 0.0, "", []byte{0, 0xff}, "x"},
		},
	}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("AdminQuery = %#v, want %#v", res, want)
	}
}

func TestAdmin_QueryReadOnlyRefusesWrites(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	fillObject(t, db)
	before := objectSnapshot(t, s)
	for _, q := range []string{
		"INSERT INTO t (name) VALUES ('w')",
		"UPDATE t SET name = 'w'",
		"DELETE FROM t",
		"CREATE TABLE u (x)",
		"DROP TABLE t",
		"CREATE TEMP TABLE u (x)",
		"PRAGMA user_version = 7",
		"SELECT 1; DELETE FROM t",
	} {
		_, err := db.AdminQuery(t.Context(), q, nil, false, 0)
		wantCode(t, err, errcode.ReadOnly)
		if !strings.Contains(err.Error(), "--write") {
			t.Fatalf("AdminQuery(%q) error %q does not tell to use --write", q, err)
		}
	}
	if d := diffSnapshots(before, objectSnapshot(t, s)); d != "" {
		t.Fatalf("refused writes changed files:\n%s", d)
	}
	wantFilled(t, db)
	// query_only is off again: the object's own writes work.
	put(t, db, "c", "3")
	exec(t, t.Context(), db, "INSERT INTO t (name) VALUES ('w')")
	wantValue(t, db, "c", "3")
}

func TestAdmin_QueryWriteCommits(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	fillObject(t, db)
	res, err := db.AdminQuery(t.Context(), "UPDATE t SET name = upper(name) WHERE id <= ?", []any{2}, true, 0)
	if err != nil {
		t.Fatalf("AdminQuery: %v", err)
	}
	if res.RowsAffected != 2 || len(res.Rows) != 0 {
		t.Fatalf("AdminQuery = %+v, want 2 rows affected and none returned", res)
	}
	res, err = db.AdminQuery(t.Context(), "INSERT INTO t (name) VALUES ('w') RETURNING id", nil, true, 0)
	if err != nil || res.RowsAffected != 1 || !reflect.DeepEqual(res.Rows, [][]any{{int64(4)}}) {
		t.Fatalf("INSERT … RETURNING = %+v, %v; want id 4 and 1 row affected", res, err)
	}
	db = reopen(t, s, db)
	if got := queryStrings(t, db, "SELECT name FROM t ORDER BY id"); !slices.Equal(got, []string{"X", "Y", "z", "w"}) {
		t.Fatalf("t after reopen = %q, want [X Y z w]", got)
	}
}

func TestAdmin_QueryWriteRollsBackOnError(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	fillObject(t, db)
	_, err := db.AdminQuery(t.Context(), "DELETE FROM t; INSERT INTO missing VALUES (1)", nil, true, 0)
	wantCode(t, err, errcode.SQLError)
	wantFilled(t, db)
	if !db.conn.AutoCommit() {
		t.Fatal("a transaction is still open after the failed AdminQuery")
	}
}

func TestAdmin_QueryWriteOnObjectWithoutStorage(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	_, err := db.AdminQuery(t.Context(), "CREATE TABLE t (x); INSERT INTO missing VALUES (1)", nil, true, 0)
	wantCode(t, err, errcode.SQLError)
	wantExists(t, s, db.ID(), false)
	if _, err := db.AdminQuery(t.Context(), "CREATE TABLE t (x)", nil, true, 0); err != nil {
		t.Fatalf("AdminQuery: %v", err)
	}
	wantExists(t, s, db.ID(), true)
}

func TestAdmin_QueryFollowsUserSQLRules(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	fillObject(t, db)
	other := filepath.Join(t.TempDir(), "other.db")
	for _, write := range []bool{false, true} {
		for _, q := range []string{
			"SELECT * FROM _roost_kv",
			"DELETE FROM _roost_kv",
			"ATTACH DATABASE '" + other + "' AS o",
			"PRAGMA query_only = OFF",
			"PRAGMA journal_mode = DELETE",
			"BEGIN",
		} {
			_, err := db.AdminQuery(t.Context(), q, nil, write, 0)
			wantCode(t, err, errcode.SQLNotAuthorized)
		}
	}
	wantNoFile(t, other)
	wantFilled(t, db)
}

func TestAdmin_QueryTruncatesAtMaxRows(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	exec(t, t.Context(), db, "CREATE TABLE n (i); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1500) INSERT INTO n SELECT i FROM c")
	tests := []struct {
		name      string
		query     string
		maxRows   int
		rows      int
		truncated bool
	}{
		{"under the limit", "SELECT i FROM n LIMIT 3", 5, 3, false},
		{"at the limit", "SELECT i FROM n LIMIT 5", 5, 5, false},
		{"over the limit", "SELECT i FROM n", 5, 5, true},
		{"default limit", "SELECT i FROM n", 0, DefaultMaxRows, true},
		{"no rows", "SELECT i FROM n WHERE i < 0", 0, 0, false},
	}
	for _, tt := range tests {
		res, err := db.AdminQuery(t.Context(), tt.query, nil, false, tt.maxRows)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if len(res.Rows) != tt.rows || res.Truncated != tt.truncated {
			t.Errorf("%s: %d rows, truncated %t; want %d, %t", tt.name, len(res.Rows), res.Truncated, tt.rows, tt.truncated)
		}
	}
}

func TestAdmin_QueryCanceledContextStopsIt(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	put(t, db, "k", "v")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := db.AdminQuery(ctx, "SELECT 1", nil, false, 0)
	wantCode(t, err, errcode.Canceled)
	wantValue(t, db, "k", "v")
}
