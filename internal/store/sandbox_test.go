package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
)

// The SQL sandbox (issue 12, item 8): no user SQL and no imported schema
// may reach Roost's internal tables, directly or through triggers, foreign
// keys, views or renames, and Roost's own writes run no user code.

// sandboxDB returns a DB that holds KV pairs a and b, a timer and a user
// table t with three rows, all committed.
func sandboxDB(t testing.TB) (*Store, *DB) {
	t.Helper()
	s, db := newTestDB(t, Config{})
	fillObject(t, db)
	event(t, db, true, func(ctx context.Context) {
		if err := db.SetTimer(ctx, Timer{Name: "tick", Kind: "timer", Due: time.UnixMilli(5000), Scheduled: time.UnixMilli(5000), Payload: []byte("secret")}); err != nil {
			t.Fatalf("SetTimer: %v", err)
		}
	})
	commit(t, db)
	return s, db
}

// internalRows returns the rows of Roost's tables, read by Roost itself.
func internalRows(t testing.TB, db *DB) string {
	t.Helper()
	db.mu.Lock()
	defer db.mu.Unlock()
	var b strings.Builder
	for _, q := range []string{`SELECT key, hex(value) FROM main._roost_kv ORDER BY key`,
		`SELECT name, kind, due, scheduled, spec, hex(payload), attempt FROM main._roost_timers ORDER BY name`} {
		rows, err := db.conn.Query(q, nil)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		b.WriteString(dumpRows(t, rows))
	}
	return b.String()
}

// dumpRows reads rows to the end into text, one line a row.
func dumpRows(t testing.TB, rows driver.Rows) string {
	t.Helper()
	defer rows.Close()
	var b strings.Builder
	v := make([]driver.Value, len(rows.Columns()))
	for {
		switch err := rows.Next(v); {
		case err == io.EOF:
			return b.String()
		case err != nil:
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%q\n", v)
	}
}

// wantSandboxIntact fails the test unless db still holds what sandboxDB
// gave it, with t's rows as given, no schema object but Roost's own is
// named _roost_*, and Roost's own writes run no user code.
func wantSandboxIntact(t testing.TB, db *DB, tRows []string) {
	t.Helper()
	wantValue(t, db, "a", "1")
	wantValue(t, db, "b", "2")
	if got := queryStrings(t, db, "SELECT name FROM t ORDER BY id"); !slices.Equal(got, tRows) {
		t.Fatalf("t = %q, want %q", got, tRows)
	}
	if tm, ok, err := db.Timer(t.Context(), "tick"); err != nil || !ok || string(tm.Payload) != "secret" {
		t.Fatalf("Timer(tick) = %+v, %t, %v; want its payload intact", tm, ok, err)
	}
	const reserved = `name LIKE '\_roost\_%' ESCAPE '\' OR tbl_name LIKE '\_roost\_%' ESCAPE '\'`
	if got := queryStrings(t, db, "SELECT name FROM sqlite_schema WHERE "+reserved+" ORDER BY name"); !slices.Equal(got, []string{"_roost_kv", "_roost_timers", "_roost_timers_due"}) {
		t.Fatalf("schema objects named _roost_* = %q, want Roost's own only", got)
	}
	if got := queryStrings(t, db, "SELECT name FROM sqlite_temp_schema WHERE "+reserved); len(got) != 0 {
		t.Fatalf("temp schema objects named _roost_* = %q, want none", got)
	}
	// Roost's own writes run no user code: a Put and a Delete change
	// Roost's tables only.
	before := internalRows(t, db)
	put(t, db, "probe", "p")
	event(t, db, true, func(ctx context.Context) {
		if _, err := db.Delete(ctx, "probe"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	})
	commit(t, db)
	if after := internalRows(t, db); after != before {
		t.Fatalf("internal tables after a Put and a Delete:\n%s\nwant\n%s", after, before)
	}
	if got := queryStrings(t, db, "SELECT name FROM t ORDER BY id"); !slices.Equal(got, tRows) {
		t.Fatalf("t after Roost's own writes = %q, want %q", got, tRows)
	}
}

// wantNoReferences fails the test if a schema object other than Roost's
// own mentions _roost_ in its SQL.
func wantNoReferences(t testing.TB, db *DB) {
	t.Helper()
	const q = `SELECT name FROM %s WHERE name NOT LIKE '\_roost\_%%' ESCAPE '\' AND sql LIKE '%%\_roost\_%%' ESCAPE '\'`
	for _, table := range []string{"sqlite_schema", "sqlite_temp_schema"} {
		if got := queryStrings(t, db, fmt.Sprintf(q, table)); len(got) != 0 {
			t.Fatalf("%s: objects that mention _roost_: %q", table, got)
		}
	}
}

// sandboxAttacks are statements that try to reach Roost's internal tables
// by a way the authorizer cannot see at first sight.
var sandboxAttacks = []struct{ name, sql string }{
	{"temp trigger on kv", "CREATE TEMP TRIGGER spy AFTER INSERT ON main._roost_kv BEGIN INSERT INTO t (name) VALUES (new.key); END"},
	{"temp trigger on kv quoted upper case", `CREATE TEMP TRIGGER spy BEFORE DELETE ON main."_ROOST_KV" BEGIN SELECT 1; END`},
	{"temp trigger on kv brackets", "CREATE TEMP TRIGGER spy AFTER UPDATE ON [_roost_kv] BEGIN SELECT 1; END"},
	{"temp trigger on timers", "CREATE TEMP TRIGGER spy AFTER INSERT ON main._roost_timers BEGIN INSERT INTO t (name) VALUES (new.name); END"},
	{"temp table shadowing kv", "CREATE TEMP TABLE _roost_kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)"},
	{"temp view shadowing kv", "CREATE TEMP VIEW _roost_kv AS SELECT 'k' AS key, x'00' AS value"},
	{"temp table renamed to kv", "CREATE TEMP TABLE s (key TEXT PRIMARY KEY, value BLOB NOT NULL); ALTER TABLE temp.s RENAME TO _roost_kv"},
	{"temp index with reserved name", "CREATE TEMP TABLE s (x); CREATE INDEX temp._roost_i ON s (x)"},
	{"rename to reserved", "ALTER TABLE t RENAME TO _roost_x"},
	{"rename to reserved upper case", `ALTER TABLE main.t RENAME TO "_ROOST_hidden"`},
	{"rename then recreate", "ALTER TABLE t RENAME TO _roost_x; CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"},
	{"rename then select", "ALTER TABLE t RENAME TO _roost_x; SELECT name FROM sqlite_schema"},
	{"foreign key to kv", "CREATE TABLE c (k TEXT REFERENCES _roost_kv (key) ON DELETE CASCADE)"},
	{"foreign key to timers", `CREATE TABLE c (k TEXT REFERENCES "_Roost_Timers" ON DELETE CASCADE)`},
	{"added column with foreign key to kv", "ALTER TABLE t ADD COLUMN k TEXT REFERENCES _roost_kv (key) ON DELETE CASCADE"},
	{"view of kv", "CREATE VIEW v AS SELECT key, value FROM _roost_kv"},
	{"view of kv as string", "CREATE VIEW v AS SELECT * FROM '_roost_kv'"},
	{"temp view of kv", "CREATE TEMP VIEW v AS SELECT * FROM main._roost_kv"},
	{"view of timers through a subquery", "CREATE VIEW v AS SELECT (SELECT payload FROM _roost_timers) AS p"},
	{"trigger writing kv", "CREATE TRIGGER tw AFTER INSERT ON t BEGIN INSERT INTO _roost_kv VALUES ('k', x''); END"},
	{"trigger reading timers", "CREATE TRIGGER tr AFTER UPDATE ON t BEGIN UPDATE t SET name = (SELECT payload FROM _roost_timers); END"},
	{"temp trigger writing kv", "CREATE TEMP TRIGGER tw AFTER DELETE ON t BEGIN DELETE FROM main._roost_kv; END"},
	{"index on kv", "CREATE INDEX i ON _roost_kv (value)"},
	{"index named reserved", "CREATE INDEX _roost_i ON t (name)"},
	{"table named reserved", "CREATE TABLE _roost_x (y)"},
	{"schema write", "UPDATE sqlite_schema SET name = '_roost_x' WHERE name = 't'"},
	{"writable schema", "PRAGMA writable_schema = ON"},
	{"vacuum into", "VACUUM INTO 'copy.db'"},
	{"stat rows of kv", "ANALYZE t; INSERT INTO sqlite_stat1 VALUES ('_roost_kv', NULL, '1000000')"},
}

func TestSandbox_UserSQLCannotReachInternalTables(t *testing.T) {
	t.Parallel()
	for _, tt := range sandboxAttacks {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, how := range []string{"exec in event", "exec", "query in event", "admin write"} {
				_, db := sandboxDB(t)
				err := runUserSQL(t, db, how, tt.sql)
				if err == nil {
					t.Fatalf("%s: %q succeeded, want it refused", how, tt.sql)
				}
				wantCode(t, err, errcode.SQLNotAuthorized)
				wantSandboxIntact(t, db, []string{"x", "y", "z"})
				wantNoReferences(t, db)
			}
		})
	}
}

// runUserSQL runs query as user SQL in one of the ways the API offers, and
// commits what it wrote (a refused statement's event still commits).
func runUserSQL(t testing.TB, db *DB, how, query string) error {
	t.Helper()
	var err error
	switch how {
	case "exec":
		_, err = db.Exec(t.Context(), query)
	case "admin write":
		_, err = db.AdminQuery(t.Context(), query, nil, true, 0)
	default:
		event(t, db, true, func(ctx context.Context) {
			if how == "exec in event" {
				_, err = db.Exec(ctx, query)
				return
			}
			var rows *Rows
			if rows, err = db.Query(ctx, query); err == nil {
				for rows.Next() {
				}
				err = rows.Close()
			}
		})
		commit(t, db)
	}
	return err
}

// A refused statement undoes the statements before it in the same call,
// and those after it do not run.
func TestSandbox_RefusedRenameUndoesItsWholeCall(t *testing.T) {
	t.Parallel()
	_, db := sandboxDB(t)
	event(t, db, true, func(ctx context.Context) {
		exec(t, ctx, db, "INSERT INTO t (name) VALUES ('kept')")
		_, err := db.Exec(ctx, "INSERT INTO t (name) VALUES ('undone'); ALTER TABLE t RENAME TO _roost_x; CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
		wantCode(t, err, errcode.SQLNotAuthorized)
		if !strings.Contains(err.Error(), "_roost_x") {
			t.Fatalf("error %q does not name the reserved name", err)
		}
	})
	commit(t, db)
	wantSandboxIntact(t, db, []string{"x", "y", "z", "kept"})
}

// Schema changes that reach nothing internal keep working, whatever their
// case and quoting, in events, outside them and through admin SQL.
func TestSandbox_OrdinarySchemaChangesStillWork(t *testing.T) {
	t.Parallel()
	_, db := sandboxDB(t)
	ctx := t.Context()
	exec(t, ctx, db, `create table "Parent" (id integer primary key, roost_kv text, my_roost_x text);
		CREATE TABLE child (p INTEGER REFERENCES Parent (id) ON DELETE CASCADE);
		CREATE TABLE log (what TEXT);
		CREATE TRIGGER gone AFTER DELETE ON child BEGIN INSERT INTO log VALUES ('child ' || old.p); END;
		CREATE VIEW parents AS SELECT id FROM Parent;
		CREATE INDEX parent_x ON Parent (my_roost_x);
		INSERT INTO Parent (id) VALUES (1); INSERT INTO child VALUES (1)`)
	event(t, db, true, func(ctx context.Context) {
		exec(t, ctx, db, "ALTER TABLE t RENAME TO t2; ALTER TABLE t2 ADD COLUMN extra TEXT; ALTER TABLE t2 RENAME COLUMN extra TO more; ALTER TABLE t2 RENAME TO t")
		rows, err := db.Query(ctx, "CREATE TEMP TABLE scratch (x); SELECT count(*) FROM scratch")
		if err != nil {
			t.Fatalf("Query with a schema change: %v", err)
		}
		rows.Close()
	})
	commit(t, db)
	if _, err := db.AdminQuery(ctx, "CREATE TABLE admin_made (x); DROP TABLE admin_made; ANALYZE t; ANALYZE; REINDEX; PRAGMA optimize", nil, true, 0); err != nil {
		t.Fatalf("admin schema change: %v", err)
	}
	// Statistics skip Roost's tables: they would tell how many rows those hold.
	if got := queryStrings(t, db, "SELECT DISTINCT tbl FROM sqlite_stat1 ORDER BY tbl"); !slices.Equal(got, []string{"Parent", "child", "t"}) {
		t.Fatalf("sqlite_stat1 describes %q, want the user's tables only", got)
	}
	exec(t, ctx, db, "DELETE FROM Parent")
	if got := queryStrings(t, db, "SELECT what FROM log"); !slices.Equal(got, []string{"child 1"}) {
		t.Fatalf("log = %q, want the cascade's trigger to have run", got)
	}
	wantSandboxIntact(t, db, []string{"x", "y", "z"})
	// DeleteAll drops the user's objects, cascades and triggers included.
	exec(t, ctx, db, "INSERT INTO Parent (id) VALUES (2); INSERT INTO child VALUES (2)")
	event(t, db, true, func(ctx context.Context) {
		if err := db.DeleteAll(ctx); err != nil {
			t.Fatalf("DeleteAll: %v", err)
		}
	})
	commit(t, db)
}

// VACUUM is refused as not authorized in events, outside them and through
// admin SQL, rather than failing later as a bad statement.
func TestSandbox_VacuumIsNotAuthorized(t *testing.T) {
	t.Parallel()
	_, db := sandboxDB(t)
	dir := t.TempDir()
	for _, q := range []string{"VACUUM", "VACUUM INTO '" + filepath.Join(dir, "copy.db") + "'", "VACUUM main INTO 1"} {
		for _, how := range []string{"exec in event", "exec", "query in event", "admin write"} {
			wantCode(t, runUserSQL(t, db, how, q), errcode.SQLNotAuthorized)
		}
		_, err := db.AdminQuery(t.Context(), q, nil, false, 0)
		wantCode(t, err, errcode.SQLNotAuthorized)
	}
	wantNoFile(t, filepath.Join(dir, "copy.db"))
	wantSandboxIntact(t, db, []string{"x", "y", "z"})
}

// An object whose file holds a trigger on Roost's table, or a foreign key
// to it with a cascade (made by hand, or by an older version): Roost's own
// writes refuse to run that code rather than run it unchecked.
func TestSandbox_KVWritesNeverRunUserCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, ddl string }{
		{"trigger on kv", "CREATE TRIGGER spy AFTER INSERT ON _roost_kv BEGIN INSERT INTO t (name) VALUES (new.key); END"},
		{"trigger on timers", "CREATE TRIGGER spy AFTER INSERT ON _roost_timers BEGIN INSERT INTO t (name) VALUES (new.name); END"},
		{"cascade into a trigger", "CREATE TABLE c (k TEXT REFERENCES _roost_kv (key) ON DELETE CASCADE); INSERT INTO c VALUES ('a'); " +
			"CREATE TRIGGER spy AFTER DELETE ON c BEGIN INSERT INTO _roost_kv VALUES ('planted', x'00'); END"},
		{"cascade", "CREATE TABLE c (k TEXT REFERENCES _roost_kv (key) ON DELETE SET NULL); INSERT INTO c VALUES ('a')"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, db := sandboxDB(t)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			makeSQLite(t, filepath.Join(s.Config().Dir, Path(testClass, db.ID())), tt.ddl)
			db = openDB(t, s, db.ID())
			before := internalRows(t, db)
			event(t, db, false, func(ctx context.Context) {
				var refused int
				for _, op := range []func() error{
					func() error { return db.Put(ctx, "new", []byte("v")) },
					func() error { _, err := db.Delete(ctx, "a"); return err },
					func() error {
						return db.SetTimer(ctx, Timer{Name: "other", Kind: "timer", Due: time.UnixMilli(1), Scheduled: time.UnixMilli(1)})
					},
				} {
					if err := op(); err != nil {
						wantCode(t, err, errcode.SQLNotAuthorized)
						refused++
					}
				}
				if refused == 0 {
					t.Fatal("Roost's writes all ran, want the one that would run user code refused")
				}
				// Seen from inside the event: no user code ran.
				if got := queryStrings(t, db, "SELECT name FROM t ORDER BY id"); !slices.Equal(got, []string{"x", "y", "z"}) {
					t.Fatalf("t = %q: user code ran inside Roost's write", got)
				}
				wantMissing(t, db, "planted")
			})
			commit(t, db)
			if after := internalRows(t, db); after != before {
				t.Fatalf("internal tables changed:\n%s\nwant\n%s", after, before)
			}
		})
	}
}

func TestSandbox_ImportRefusesSchemaThatReachesInternalTables(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct{ name, ddl, message string }{
		{"foreign key and trigger writing kv", kvSchema + `; CREATE TABLE c (k TEXT REFERENCES _roost_kv (key) ON DELETE CASCADE);
			CREATE TRIGGER plant AFTER DELETE ON c BEGIN INSERT INTO _roost_kv VALUES ('planted', x'00'); END`, "_roost_kv"},
		{"foreign key without kv table", "CREATE TABLE c (k TEXT REFERENCES _roost_kv (key) ON DELETE CASCADE)", "_roost_kv"},
		{"trigger on a user table writing kv", "CREATE TABLE t (x); CREATE TRIGGER w AFTER INSERT ON t BEGIN DELETE FROM _roost_kv; END", "_roost_kv"},
		{"view of kv", kvSchema + "; CREATE VIEW v AS SELECT * FROM \"_ROOST_KV\"", "_ROOST_KV"},
		{"view of timers", "CREATE VIEW v AS SELECT * FROM _roost_timers", "_roost_timers"},
		{"table with reserved name", "CREATE TABLE _roost_hidden (x)", "_roost_hidden"},
		{"index with reserved name on kv", kvSchema + "; CREATE INDEX _roost_byvalue ON _roost_kv (value)", "_roost_byvalue"},
		{"index with reserved name on a user table", "CREATE TABLE t (x); CREATE INDEX _roost_i ON t (x)", "_roost_i"},
		{"statistics of kv", kvSchema + "; CREATE TABLE t (x); CREATE INDEX tx ON t (x); ANALYZE; INSERT INTO sqlite_stat1 VALUES ('_roost_kv', NULL, '9')", "sqlite_stat1"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(dir, strings.Repeat("f", i+1)+".db")
			makeSQLite(t, src, tt.ddl)
			s, db := newTestDB(t, Config{})
			fillObject(t, db)
			before := objectSnapshot(t, s)
			err := db.Import(t.Context(), src, true)
			wantCode(t, err, errcode.BadRequest)
			if !strings.Contains(err.Error(), tt.message) || !strings.Contains(err.Error(), "_roost_") {
				t.Fatalf("Import error %q does not name %q", err, tt.message)
			}
			if d := diffSnapshots(before, objectSnapshot(t, s)); d != "" {
				t.Fatalf("refused Import changed files:\n%s", d)
			}
			wantNoStaging(t, s)
			wantFilled(t, reopen(t, s, db))
		})
	}
}

// An import of a file whose schema names _roost_ only where it reaches
// nothing (a column, a longer name) works.
func TestSandbox_ImportAcceptsOrdinarySchema(t *testing.T) {
	t.Parallel()
	src := filepath.Join(t.TempDir(), "ok.db")
	makeSQLite(t, src, `CREATE TABLE my_roost_things (id INTEGER PRIMARY KEY, roost_kv TEXT);
		CREATE TABLE log (x); CREATE TRIGGER tr AFTER INSERT ON my_roost_things BEGIN INSERT INTO log VALUES (new.id); END;
		CREATE VIEW v AS SELECT id FROM my_roost_things`)
	s, db := newTestDB(t, Config{})
	if err := db.Import(t.Context(), src, false); err != nil {
		t.Fatalf("Import: %v", err)
	}
	exec(t, t.Context(), db, "INSERT INTO my_roost_things (roost_kv) VALUES ('x')")
	put(t, db, "k", "v")
	db = reopen(t, s, db)
	if got := queryStrings(t, db, "SELECT x FROM log"); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("log = %q, want [1]", got)
	}
	wantValue(t, db, "k", "v")
}
