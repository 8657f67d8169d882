package roost_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/admin"
	"github.com/roost-dev/roost/internal/errcode"
)

// The SQL sandbox (issue 12, item 8), through the public API and the admin
// API: user SQL and imported files cannot reach Roost's internal tables.

// sandboxAttacks are user SQL that would reach Roost's _roost_kv table
// other than through the KV API.
var sandboxAttacks = []struct{ name, sql string }{
	// Its body would run inside the object's own KV writes.
	{"temp trigger on kv", "CREATE TEMP TRIGGER spy AFTER INSERT ON main._roost_kv BEGIN INSERT INTO t VALUES (new.key); END"},
	// The table could no longer be read, renamed or dropped.
	{"rename to reserved name", "ALTER TABLE t RENAME TO _roost_x"},
	// The cascade would fire the trigger inside the object's own KV delete.
	{"foreign key to kv", "CREATE TABLE c (k TEXT REFERENCES _roost_kv (key) ON DELETE CASCADE); " +
		"CREATE TRIGGER plant AFTER DELETE ON c BEGIN INSERT INTO t VALUES ('cascade'); END"},
	{"view of kv", `CREATE VIEW v AS SELECT * FROM "_ROOST_KV"`},
	// Roost's own statements would read and write the temp table.
	{"temp table shadowing kv", "CREATE TEMP TABLE _roost_kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)"},
	{"vacuum into", "VACUUM INTO 'copy.db'"},
}

// sandboxSetup gives the object a KV pair and table t with one row.
func sandboxSetup(ctx context.Context, o *obj) error {
	if err := o.st.Storage().Put(ctx, "secret", []byte("s")); err != nil {
		return err
	}
	_, err := o.st.Storage().Exec(ctx, "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('row')")
	return err
}

// wantSandboxIntact checks, in an event of the object, that its KV pair and
// table are as sandboxSetup left them and that its KV writes run no user
// code.
func wantSandboxIntact(ctx context.Context, t *testing.T, o *obj) error {
	st := o.st.Storage()
	if err := st.Put(ctx, "after", []byte("1")); err != nil {
		return err
	}
	if ok, err := st.Delete(ctx, "after"); err != nil || !ok {
		t.Errorf("Delete(after) = %t, %v", ok, err)
	}
	if v, ok, err := st.Get(ctx, "secret"); err != nil || !ok || string(v) != "s" {
		t.Errorf("Get(secret) = %q, %t, %v; want s", v, ok, err)
	}
	rows, err := st.Query(ctx, "SELECT v FROM t UNION ALL SELECT name FROM sqlite_temp_schema")
	if err != nil {
		return err
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return err
		}
		got = append(got, v)
	}
	if !slices.Equal(got, []string{"row"}) {
		t.Errorf("t and the temp schema hold %q, want only [row]", got)
	}
	return rows.Err()
}

func TestStorage_SQLCannotReachInternalTables(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	serial := registerObj(app, "serial", nil)
	concurrent := registerObjWithOptions(app, "concurrent", nil, &roost.ClassOptions{Concurrent: true})
	for _, c := range []*class{serial, concurrent} {
		c.mustRun(t, "x", sandboxSetup)
		for _, a := range sandboxAttacks {
			c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
				_, err := o.st.Storage().Exec(ctx, a.sql)
				if code := roost.ErrorCode(err); code != "sql_not_authorized" {
					t.Errorf("%s: Exec = %v (code %s), want code sql_not_authorized", a.name, err, code)
				}
				rows, err := o.st.Storage().Query(ctx, a.sql)
				if err == nil {
					rows.Close()
				}
				if code := roost.ErrorCode(err); code != "sql_not_authorized" {
					t.Errorf("%s: Query = %v (code %s), want code sql_not_authorized", a.name, err, code)
				}
				return nil
			})
			c.mustRun(t, "x", func(ctx context.Context, o *obj) error { return wantSandboxIntact(ctx, t, o) })
		}
	}
}

func TestAdmin_SQLAndImportCannotReachInternalTables(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	c := registerObj(app, "sandbox", nil)
	_, client := adminServer(t, app)
	ref := admin.Ref{Class: "sandbox", Name: "x"}
	c.mustRun(t, "x", sandboxSetup)
	for _, a := range sandboxAttacks {
		_, err := client.SQL(t.Context(), ref, admin.Query{Query: a.sql, Write: true})
		wantErrCode(t, err, errcode.SQLNotAuthorized)
		c.mustRun(t, "x", func(ctx context.Context, o *obj) error { return wantSandboxIntact(ctx, t, o) })
	}
	_, err := client.SQL(t.Context(), ref, admin.Query{Query: "VACUUM INTO 'copy.db'"})
	wantErrCode(t, err, errcode.SQLNotAuthorized)

	// A file whose user table has a foreign key to _roost_kv and a trigger
	// that writes _roost_kv when the cascade fires: refused, whatever
	// later deletes the key.
	file := filepath.Join(t.TempDir(), "crafted.db")
	roost.SQLite3(t, file, `CREATE TABLE _roost_kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
		INSERT INTO _roost_kv VALUES ('k', x'00');
		CREATE TABLE c (k TEXT REFERENCES _roost_kv (key) ON DELETE CASCADE); INSERT INTO c VALUES ('k');
		CREATE TRIGGER plant AFTER DELETE ON c BEGIN INSERT INTO _roost_kv VALUES ('planted', x'01'); END`)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = client.Import(t.Context(), admin.Ref{Class: "sandbox", Name: "imported"}, f, false)
	wantErrCode(t, err, errcode.BadRequest)
	if !strings.Contains(err.Error(), "_roost_kv") {
		t.Fatalf("import error %q does not name _roost_kv", err)
	}
}
