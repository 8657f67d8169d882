package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
)

// The invariant of the SQL sandbox, fuzzed: no statement and no imported
// object may read or write Roost's internal rows except through Roost's
// API. A statement is cut off after fuzzStatementTime (it is not an
// assertion: a query that never ends is the caller's to bound).
const fuzzStatementTime = 2 * time.Second

// fuzzSkip reports inputs the fuzz targets do not run: long ones, and
// recursive queries, which may never end outside admin SQL's deadline.
func fuzzSkip(query string) bool {
	return len(query) > 2000 || strings.Contains(strings.ToLower(query), "recursive")
}

// newCanary returns a random string that no input can guess: seen in user
// output, it was read from Roost's internal tables.
func newCanary(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "canary-" + hex.EncodeToString(b)
}

// canaryDB returns a new object's DB in s whose KV pairs and timer hold
// canary (in a key, a value and a payload) beside a user table t, all
// committed.
func canaryDB(t testing.TB, s *Store, canary string) *DB {
	t.Helper()
	db := openDB(t, s, objID(newCanary(t)))
	event(t, db, true, func(ctx context.Context) {
		err := db.PutMany(ctx, []Entry{{"a", []byte("1")}, {"secret", []byte(canary)}, {canary, []byte("v")}})
		if err == nil {
			err = db.SetTimer(ctx, Timer{Name: "tick", Kind: "timer", Due: time.UnixMilli(5000), Scheduled: time.UnixMilli(5000), Payload: []byte(canary)})
		}
		if err != nil {
			t.Fatal(err)
		}
		exec(t, ctx, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t (name) VALUES ('x'), ('y')")
	})
	commit(t, db)
	return db
}

// apiWrites changes db through Roost's API only, in one committed event.
func apiWrites(t testing.TB, db *DB) {
	t.Helper()
	event(t, db, true, func(ctx context.Context) {
		err := db.Put(ctx, "after", []byte("x"))
		if err == nil {
			_, err = db.Delete(ctx, "a")
		}
		if err == nil {
			err = db.SetTimer(ctx, Timer{Name: "tock", Kind: "timer", Due: time.UnixMilli(9000), Scheduled: time.UnixMilli(9000)})
		}
		if err == nil {
			_, err = db.DeleteTimer(ctx, "tick")
		}
		if err != nil {
			t.Fatalf("Roost's own writes after user SQL: %v", err)
		}
	})
	commit(t, db)
}

// canaryForms are the ways the canary could come out: as is, or as hex.
func canaryForms(canary string) []string {
	h := hex.EncodeToString([]byte(canary))
	return []string{canary, h, strings.ToUpper(h)}
}

// wantNoCanary fails the test if out holds 12 bytes in a row of a form of
// the canary.
func wantNoCanary(t testing.TB, canary, where string, out []byte) {
	t.Helper()
	for _, form := range canaryForms(canary) {
		for i := 0; i+12 <= len(form); i++ {
			if bytes.Contains(out, []byte(form[i:i+12])) {
				t.Fatalf("%s holds bytes of Roost's internal rows: %q", where, out)
			}
		}
	}
}

// userTables dumps every user table of db (main and temp), read by Roost.
func userTables(t testing.TB, db *DB) []byte {
	t.Helper()
	db.mu.Lock()
	defer db.mu.Unlock()
	var out bytes.Buffer
	for _, schema := range []string{"main", "temp"} {
		names, err := selectTexts(db.conn, `SELECT name FROM `+schema+`.sqlite_master
			WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_roost\_%' ESCAPE '\' ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			rows, err := db.conn.Query(`SELECT * FROM `+schema+`.`+quoteIdent(n), nil)
			if err != nil {
				t.Fatalf("read %s.%s: %v", schema, n, err)
			}
			out.WriteString(schema + "." + n + "\n" + dumpRows(t, rows))
		}
	}
	return out.Bytes()
}

// wantSandboxHeld checks the invariant on db after user SQL ran: no user
// table holds internal bytes, and Roost's API writes leave Roost's tables
// exactly as they leave them on a DB that no user SQL touched (want).
func wantSandboxHeld(t testing.TB, db *DB, canary, want string) {
	t.Helper()
	wantNoCanary(t, canary, "a user table", userTables(t, db))
	apiWrites(t, db)
	if got := internalRows(t, db); got != want {
		t.Fatalf("internal tables after user SQL and Roost's writes:\n%s\nwant, as with Roost's writes alone:\n%s", got, want)
	}
}

// valuesText renders values for wantNoCanary.
func valuesText(vs []any) []byte {
	var b bytes.Buffer
	for _, v := range vs {
		fmt.Fprintf(&b, "%s|", v)
	}
	return b.Bytes()
}

func FuzzSandboxSQL(f *testing.F) {
	for _, a := range sandboxAttacks {
		f.Add(a.sql)
	}
	f.Add("CREATE TABLE u (x); INSERT INTO u SELECT name FROM t; SELECT * FROM u")
	f.Add("SELECT key, value FROM _roost_kv")
	f.Add("CREATE TEMP TRIGGER x AFTER INSERT ON t BEGIN SELECT 1; END; INSERT INTO t (name) VALUES ('n') RETURNING *")
	f.Fuzz(func(t *testing.T, query string) {
		if fuzzSkip(query) {
			t.Skip()
		}
		// One store per input; its commits need not reach the disk.
		s := newStore(t, Config{Synchronous: SyncNormal})
		canary := newCanary(t)
		control := canaryDB(t, s, canary)
		apiWrites(t, control)
		want := internalRows(t, control)
		// Admin SQL first, under a deadline; a statement that outlives it
		// is not tried where nothing would interrupt it.
		db := canaryDB(t, s, canary)
		ctx, cancel := context.WithTimeout(t.Context(), fuzzStatementTime)
		defer cancel()
		res, err := db.AdminQuery(ctx, query, nil, true, 0)
		timedOut := ctx.Err() != nil
		if err != nil {
			wantNoCanary(t, canary, "an admin SQL error", []byte(err.Error()))
		} else {
			for _, row := range res.Rows {
				wantNoCanary(t, canary, "an admin SQL row", valuesText(row))
			}
		}
		wantSandboxHeld(t, db, canary, want)
		if timedOut {
			return
		}
		for _, inQuery := range []bool{false, true} {
			db := canaryDB(t, s, canary)
			event(t, db, true, func(ctx context.Context) {
				out, err := runFuzzedUserSQL(ctx, db, query, inQuery)
				if err != nil {
					out = append(out, err.Error()...)
				}
				wantNoCanary(t, canary, "user SQL's output", out)
			})
			commit(t, db)
			wantSandboxHeld(t, db, canary, want)
		}
	})
}

// runFuzzedUserSQL runs query with Exec or Query in an event and returns
// what it returned.
func runFuzzedUserSQL(ctx context.Context, db *DB, query string, inQuery bool) ([]byte, error) {
	if !inQuery {
		_, err := db.Exec(ctx, query)
		return nil, err
	}
	rows, err := db.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []byte
	for n := 0; n < 1000 && rows.Next(); n++ {
		vs := make([]any, len(rows.Columns()))
		ptrs := make([]any, len(vs))
		for i := range vs {
			ptrs[i] = &vs[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return out, err
		}
		out = append(out, valuesText(vs)...)
	}
	return out, rows.Err()
}

// FuzzSandboxImport builds a SQLite file from fuzzed SQL, run by a plain
// connection (no authorizer: the file could come from any tool), and
// imports it. An import either fails with a client error, or yields an
// object whose schema reaches nothing of Roost's: Roost's own writes then
// change Roost's tables as the API says, and no user table.
func FuzzSandboxImport(f *testing.F) {
	f.Add(kvSchema + "; CREATE TABLE c (k TEXT REFERENCES _roost_kv (key) ON DELETE CASCADE); " +
		"CREATE TRIGGER plant AFTER DELETE ON c BEGIN INSERT INTO _roost_kv VALUES ('planted', x'00'); END")
	f.Add(kvSchema + "; CREATE TABLE log (k); CREATE TRIGGER spy AFTER INSERT ON _roost_kv BEGIN INSERT INTO log VALUES (new.key); END")
	f.Add("CREATE TABLE t (x); CREATE VIEW v AS SELECT * FROM _roost_kv; CREATE INDEX _roost_i ON t (x)")
	f.Add("CREATE TABLE my_roost_t (roost_kv); INSERT INTO my_roost_t VALUES (1)")
	f.Fuzz(func(t *testing.T, ddl string) {
		if fuzzSkip(ddl) {
			t.Skip()
		}
		src := fuzzedFile(t, ddl)
		_, db := newTestDB(t, Config{Synchronous: SyncNormal})
		if err := db.Import(t.Context(), src, true); err != nil {
			switch code := errcode.Of(err); code {
			case errcode.BadRequest, errcode.LimitExceeded:
			default:
				t.Fatalf("Import failed with code %s (want bad_request or limit_exceeded): %v", code, err)
			}
			return
		}
		wantImportHeld(t, db)
	})
}

// fuzzedFile runs ddl in a new SQLite file and returns its path. The
// connection can attach nothing, so the SQL cannot write elsewhere (ATTACH,
// VACUUM INTO), and makes no large value; the SQL may fail part way: the
// file holds what ran.
func fuzzedFile(t testing.TB, ddl string) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "fuzzed.db")
	c, err := openPlain(src, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetLimit(10, 0)    // SQLITE_LIMIT_ATTACHED
	c.SetLimit(0, 1<<16) // SQLITE_LIMIT_LENGTH: no value so large that copying the file takes long
	ctx, cancel := context.WithTimeout(t.Context(), fuzzStatementTime)
	defer cancel()
	_, _ = c.ExecContext(ctx, ddl, nil)
	return src
}

// wantImportHeld checks an imported object: only Roost's objects are named
// _roost_*, and a round of Roost's writes that undoes itself leaves Roost's
// tables and the user's as they were.
func wantImportHeld(t testing.TB, db *DB) {
	t.Helper()
	const reserved = `SELECT name FROM sqlite_master WHERE (name LIKE '\_roost\_%' ESCAPE '\' OR tbl_name LIKE '\_roost\_%' ESCAPE '\')
		AND name NOT IN ('_roost_kv', '_roost_timers', '_roost_timers_due')`
	db.mu.Lock()
	names, err := selectTexts(db.conn, reserved)
	db.mu.Unlock()
	if err != nil || len(names) != 0 {
		t.Fatalf("imported objects named _roost_*: %q, %v", names, err)
	}
	tables, internal := userTables(t, db), internalRows(t, db)
	existing := importedPairs(t, db)
	name := newCanary(t) // a key and a timer the file cannot hold
	event(t, db, true, func(ctx context.Context) {
		// Deleting a pair the file holds would fire a cascade of a foreign
		// key to it; putting it back undoes the delete.
		for _, e := range existing {
			if _, err := db.Delete(ctx, e.Key); err != nil {
				t.Fatalf("Delete(%q) of an imported pair: %v", e.Key, err)
			}
			if err := db.Put(ctx, e.Key, e.Value); err != nil {
				t.Fatalf("Put(%q) of an imported pair: %v", e.Key, err)
			}
		}
		err := db.Put(ctx, name, []byte("v"))
		if err == nil {
			_, err = db.Delete(ctx, name)
		}
		if err == nil {
			err = db.SetTimer(ctx, Timer{Name: name, Kind: "timer", Due: time.UnixMilli(1), Scheduled: time.UnixMilli(1)})
		}
		if err == nil {
			_, err = db.DeleteTimer(ctx, name)
		}
		if err != nil {
			t.Fatalf("Roost's own writes on the imported object: %v", err)
		}
	})
	commit(t, db)
	if got := userTables(t, db); !bytes.Equal(got, tables) {
		t.Fatalf("Roost's own writes changed user tables:\n%s\nwas\n%s", got, tables)
	}
	if got := internalRows(t, db); got != internal {
		t.Fatalf("Roost's writes that undo themselves changed its tables:\n%s\nwas\n%s", got, internal)
	}
}

// importedPairs returns a few KV pairs of an imported object that the KV
// API can delete and put back as they were (a text key, a blob value).
func importedPairs(t testing.TB, db *DB) []Entry {
	t.Helper()
	db.mu.Lock()
	defer db.mu.Unlock()
	rows, err := db.conn.Query(`SELECT key, value FROM _roost_kv WHERE typeof(key) = 'text' AND typeof(value) = 'blob'
		AND length(CAST(key AS BLOB)) <= 1024 AND length(value) <= 1024 ORDER BY key LIMIT 3`, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []Entry
	v := make([]driver.Value, 2)
	for rows.Next(v) == nil {
		out = append(out, Entry{Key: text(v[0]), Value: bytes.Clone(v[1].([]byte))})
	}
	return out
}
