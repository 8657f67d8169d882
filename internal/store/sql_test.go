package store

import (
	"context"
	"database/sql"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
)

func TestSQL_ExecRunsSeveralStatements(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	ctx := t.Context()
	res := exec(t, ctx, db, `
		CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);
		INSERT INTO t (name) VALUES ('a');
		-- a comment between statements
		INSERT INTO t (name) VALUES ('b'), ('c');
	`)
	if res.RowsAffected != 2 || res.LastInsertID != 3 {
		t.Fatalf("Result = %+v, want RowsAffected 2 and LastInsertID 3 (of the last statement)", res)
	}
	db = reopen(t, s, db)
	if got := queryStrings(t, db, "SELECT name FROM t ORDER BY id"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("names = %q, want [a b c]", got)
	}
}

func TestSQL_ExecOnlyWhitespaceDoesNothing(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	if res, err := db.Exec(t.Context(), "  -- nothing\n "); err != nil || res != (Result{}) {
		t.Fatalf("Exec(comment) = %+v, %v; want zero Result, nil", res, err)
	}
}

func TestSQL_ExecTakesArgsInStatementOrder(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	ctx := t.Context()
	exec(t, ctx, db, "CREATE TABLE t (x, y)")
	exec(t, ctx, db, "INSERT INTO t VALUES (?, 'a'); INSERT INTO t VALUES (?, ?)", 1, 2, "b")
	if got := queryStrings(t, db, "SELECT x || y FROM t ORDER BY x"); !slices.Equal(got, []string{"1a", "2b"}) {
		t.Fatalf("rows = %q, want [1a 2b]", got)
	}
	_, err := db.Exec(ctx, "INSERT INTO t VALUES (?, ?); INSERT INTO t VALUES (?, ?)", 3, "c", 4)
	wantCode(t, err, errcode.SQLError)
	if !strings.Contains(err.Error(), "not enough args") {
		t.Fatalf("Exec with too few args: %v, want a not enough args error", err)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM t"); n != 2 {
		t.Fatalf("rows = %d after the failed Exec, want 2 (its first statement rolled back)", n)
	}
}

type level int

func TestSQL_BindsSupportedArgumentTypes(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	when := time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("x", 3600))
	tests := []struct {
		name     string
		arg      any
		wantType string
		want     any
	}{
		{name: "nil", arg: nil, wantType: "null", want: nil},
		{name: "int", arg: -42, wantType: "integer", want: int64(-42)},
		{name: "int8", arg: int8(-8), wantType: "integer", want: int64(-8)},
		{name: "int16", arg: int16(16), wantType: "integer", want: int64(16)},
		{name: "int32", arg: int32(32), wantType: "integer", want: int64(32)},
		{name: "int64 max", arg: int64(math.MaxInt64), wantType: "integer", want: int64(math.MaxInt64)},
		{name: "uint8", arg: uint8(255), wantType: "integer", want: int64(255)},
		{name: "uint16", arg: uint16(65535), wantType: "integer", want: int64(65535)},
		{name: "uint32", arg: uint32(math.MaxUint32), wantType: "integer", want: int64(math.MaxUint32)},
		{name: "uint", arg: uint(7), wantType: "integer", want: int64(7)},
		{name: "uint64", arg: uint64(1 << 40), wantType: "integer", want: int64(1 << 40)},
		{name: "float32", arg: float32(1.5), wantType: "real", want: 1.5},
		{name: "float64", arg: 2.25, wantType: "real", want: 2.25},
		{name: "bool true", arg: true, wantType: "integer", want: int64(1)},
		{name: "bool false", arg: false, wantType: "integer", want: int64(0)},
		{name: "string", arg: "héllo", wantType: "text", want: "héllo"},
		{name: "empty string", arg: "", wantType: "text", want: ""},
		{name: "bytes", arg: []byte{0, 1, 0xff}, wantType: "blob", want: []byte{0, 1, 0xff}},
		{name: "nil bytes", arg: []byte(nil), wantType: "null", want: nil},
		{name: "time", arg: when, wantType: "text", want: "2026-03-04T04:06:07.00000089Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows, err := db.Query(t.Context(), "SELECT typeof(?1), ?1", tt.arg)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			defer rows.Close()
			if !rows.Next() {
				t.Fatalf("no row: %v", rows.Err())
			}
			var typ string
			var got any
			if err := rows.Scan(&typ, &got); err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if typ != tt.wantType {
				t.Fatalf("typeof = %s, want %s", typ, tt.wantType)
			}
			if b, ok := tt.want.([]byte); ok {
				if gb, ok := got.([]byte); !ok || string(gb) != string(b) {
					t.Fatalf("value = %#v, want %#v", got, tt.want)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("value = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestSQL_BindRefusesUnsupportedType(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	ctx := t.Context()
	exec(t, ctx, db, "CREATE TABLE t (x)")
	if _, err := db.Exec(ctx, "INSERT INTO t VALUES (?)", struct{}{}); err == nil || !strings.Contains(err.Error(), "unsupported type struct {}") {
		t.Fatalf("Exec with a struct arg: %v, want an unsupported type error", err)
	}
	if _, err := db.Query(ctx, "SELECT ?", []int{1}); err == nil || !strings.Contains(err.Error(), "unsupported type []int") {
		t.Fatalf("Query with a slice arg: %v, want an unsupported type error", err)
	}
}

func TestSQL_ScanConvertsIntoGoTypes(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	ctx := t.Context()
	when := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	exec(t, ctx, db, `CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, ok INTEGER, at TEXT, n TEXT, unix INTEGER, lvl INTEGER)`)
	exec(t, ctx, db, `INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		int64(1<<40), 3.5, "text", []byte("blob"), true, when, nil, int64(1700000000), level(3))
	db = reopen(t, s, db)

	rows, err := db.Query(ctx, "SELECT i, i, r, s, b, ok, at, n, s, n, i, lvl, unix, i, s, b, r FROM t")
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	defer rows.Close()
	if cols := rows.Columns(); len(cols) != 17 || cols[0] != "i" || cols[3] != "s" {
		t.Fatalf("Columns = %q", cols)
	}
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	var (
		i     int
		i64   int64
		f     float64
		str   string
		b     []byte
		ok    bool
		at    time.Time
		anyN  any
		ns    sql.NullString
		nsNil sql.NullString
		ni    sql.NullInt64
		lvl   level
		unix  time.Time
		iStr  string
		sAny  any
		bStr  string
		rStr  string
	)
	if err := rows.Scan(&i, &i64, &f, &str, &b, &ok, &at, &anyN, &ns, &nsNil, &ni, &lvl, &unix, &iStr, &sAny, &bStr, &rStr); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"int", i, 1 << 40},
		{"int64", i64, int64(1 << 40)},
		{"float64", f, 3.5},
		{"string", str, "text"},
		{"bytes", string(b), "blob"},
		{"bool", ok, true},
		{"time", at.Equal(when), true},
		{"any NULL", anyN, nil},
		{"NullString", ns, sql.NullString{String: "text", Valid: true}},
		{"NullString NULL", nsNil, sql.NullString{}},
		{"NullInt64", ni, sql.NullInt64{Int64: 1 << 40, Valid: true}},
		{"named int", lvl, level(3)},
		{"time from unix seconds", unix.Equal(time.Unix(1700000000, 0)), true},
		{"int into string", iStr, "1099511627776"},
		{"text into any", sAny, "text"},
		{"blob into string", bStr, "blob"},
		{"real into string", rStr, "3.5"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if rows.Next() {
		t.Fatal("a second row")
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
}

func TestSQL_ScanReportsBadDestinations(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	ctx := t.Context()
	tests := []struct {
		name    string
		query   string
		dest    func() []any
		wantErr string
	}{
		{name: "NULL into string", query: "SELECT NULL", dest: func() []any { var s string; return []any{&s} }, wantErr: "NULL into *string"},
		{name: "NULL into int", query: "SELECT NULL", dest: func() []any { var n int; return []any{&n} }, wantErr: "NULL into *int"},
		{name: "too few", query: "SELECT 1, 2", dest: func() []any { var n int; return []any{&n} }, wantErr: "expected 2 destinations, got 1"},
		{name: "too many", query: "SELECT 1", dest: func() []any { var n, m int; return []any{&n, &m} }, wantErr: "expected 1 destinations, got 2"},
		{name: "text into int", query: "SELECT 'abc'", dest: func() []any { var n int; return []any{&n} }, wantErr: "converting abc to int"},
		{name: "overflow into int8", query: "SELECT 300", dest: func() []any { var n int8; return []any{&n} }, wantErr: "converting 300 to int8"},
		{name: "real into bool", query: "SELECT 1.5", dest: func() []any { var b bool; return []any{&b} }, wantErr: "into *bool"},
		{name: "non pointer", query: "SELECT 1", dest: func() []any { return []any{1} }, wantErr: "not a non-nil pointer"},
		{name: "bad time text", query: "SELECT 'yesterday'", dest: func() []any { var at time.Time; return []any{&at} }, wantErr: "column 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rows, err := db.Query(ctx, tt.query)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			defer rows.Close()
			if !rows.Next() {
				t.Fatalf("no row: %v", rows.Err())
			}
			err = rows.Scan(tt.dest()...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Scan: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSQL_ScanWithoutRowFails(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	rows, err := db.Query(t.Context(), "SELECT 1")
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	for rows.Next() {
	}
	var n int
	if err := rows.Scan(&n); err == nil {
		t.Fatal("Scan after the last row: nil error")
	}
	if err := rows.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestSQL_QueryWriteOutsideEventCommitsOnItsOwn(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	ctx := t.Context()
	exec(t, ctx, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, x)")
	if got := queryStrings(t, db, "INSERT INTO t (x) VALUES ('a') RETURNING id"); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("RETURNING = %q, want [1]", got)
	}
	db = reopen(t, s, db)
	if got := queryStrings(t, db, "SELECT x FROM t"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("x = %q, want [a]", got)
	}
}

func TestSQL_QueryWithReturningWritesInEvent(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	ctx := t.Context()
	exec(t, ctx, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, x)")
	insert := func(ctx context.Context, x int) int64 {
		rows, err := db.Query(ctx, "INSERT INTO t (x) VALUES (?) RETURNING id", x)
		if err != nil {
			t.Fatalf("Query(INSERT RETURNING): %v", err)
		}
		defer rows.Close()
		var id int64
		if !rows.Next() {
			t.Fatalf("no row: %v", rows.Err())
		}
		if err := rows.Scan(&id); err != nil {
			t.Fatalf("Scan: %v", err)
		}
		return id
	}
	event(t, db, true, func(ctx context.Context) {
		if id := insert(ctx, 10); id != 1 {
			t.Fatalf("RETURNING id = %d, want 1", id)
		}
	})
	event(t, db, false, func(ctx context.Context) { insert(ctx, 20) })
	commit(t, db)
	db = reopen(t, s, db)
	if got := queryStrings(t, db, "SELECT x FROM t"); !slices.Equal(got, []string{"10"}) {
		t.Fatalf("x = %q, want [10] (the failed event's insert rolled back)", got)
	}
}

func TestSQL_QueryReturnsRowsOfLastStatement(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	ctx := t.Context()
	exec(t, ctx, db, "CREATE TABLE t (x)")
	event(t, db, true, func(ctx context.Context) {
		rows, err := db.Query(ctx, "INSERT INTO t VALUES (?); SELECT x * 10 FROM t WHERE x = ?", 4, 4)
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		defer rows.Close()
		var got int
		if !rows.Next() {
			t.Fatalf("no row: %v", rows.Err())
		}
		if err := rows.Scan(&got); err != nil || got != 40 {
			t.Fatalf("Scan = %d, %v; want 40", got, err)
		}
	})
	commit(t, db)
	if got := queryStrings(t, db, "SELECT 1; SELECT 2"); !slices.Equal(got, []string{"2"}) {
		t.Fatalf("Query of two SELECTs = %q, want [2]", got)
	}
	if got := queryStrings(t, db, "SELECT 'one';  "); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("Query with a trailing semicolon = %q", got)
	}
	for _, q := range []string{"", "  -- only a comment"} {
		if got := queryStrings(t, db, q); len(got) != 0 {
			t.Fatalf("Query(%q) = %q, want no rows", q, got)
		}
	}
}

func TestSQL_RowsAreClosedAtEndEvent(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	ctx := t.Context()
	exec(t, ctx, db, "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3)")
	var rows *Rows
	event(t, db, true, func(ctx context.Context) {
		var err error
		rows, err = db.Query(ctx, "SELECT x FROM t ORDER BY x")
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		if !rows.Next() {
			t.Fatalf("no first row: %v", rows.Err())
		}
	})
	if rows.Next() {
		t.Fatal("Next after EndEvent = true, want the rows closed")
	}
	var x int
	if err := rows.Scan(&x); err == nil {
		t.Fatal("Scan after EndEvent: nil error")
	}
	if err := rows.Close(); err != nil {
		t.Fatalf("Close of closed rows: %v", err)
	}
	// The statement went back to the cache in a clean state.
	if got := queryStrings(t, db, "SELECT x FROM t ORDER BY x"); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("same query again = %q, want [1 2 3]", got)
	}
}

func TestSQL_SameQueryOpenTwiceIterates(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	ctx := t.Context()
	exec(t, ctx, db, "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)")
	const q = "SELECT x FROM t ORDER BY x"
	queryStrings(t, db, q) // cache the statement
	r1, err := db.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := db.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	var got []int
	for r1.Next() {
		var a, b int
		if !r2.Next() {
			t.Fatal("r2 ended before r1")
		}
		if err := r1.Scan(&a); err != nil {
			t.Fatal(err)
		}
		if err := r2.Scan(&b); err != nil {
			t.Fatal(err)
		}
		got = append(got, a, b)
	}
	if !slices.Equal(got, []int{1, 1, 2, 2}) {
		t.Fatalf("interleaved rows = %v, want [1 1 2 2]", got)
	}
}

func TestSQL_CachedQuerySeesSchemaChange(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	ctx := t.Context()
	exec(t, ctx, db, "CREATE TABLE t (a); INSERT INTO t VALUES (1)")
	const q = "SELECT * FROM t"
	queryStrings(t, db, q) // cache the statement
	exec(t, ctx, db, "ALTER TABLE t ADD COLUMN b DEFAULT 2")
	rows, err := db.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	var a, b int
	if err := rows.Scan(&a, &b); err != nil {
		t.Fatalf("Scan of the new column: %v (Columns %q)", err, rows.Columns())
	}
	if a != 1 || b != 2 || !slices.Equal(rows.Columns(), []string{"a", "b"}) {
		t.Fatalf("row = %d, %d, columns %q; want 1, 2, [a b]", a, b, rows.Columns())
	}
}

func TestSQL_ErrorsCarryCodes(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	ctx := t.Context()
	exec(t, ctx, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, x NOT NULL, u UNIQUE, CHECK (x > 0))")
	exec(t, ctx, db, "INSERT INTO t VALUES (1, 1, 'taken')")
	tests := []struct {
		name  string
		query string
		want  errcode.Code
	}{
		{name: "syntax", query: "SELEC 1", want: errcode.SQLError},
		{name: "missing table", query: "INSERT INTO nope VALUES (1)", want: errcode.SQLError},
		{name: "missing column", query: "UPDATE t SET nope = 1", want: errcode.SQLError},
		{name: "primary key", query: "INSERT INTO t VALUES (1, 1, 'other')", want: errcode.SQLError},
		{name: "unique", query: "INSERT INTO t VALUES (2, 1, 'taken')", want: errcode.SQLError},
		{name: "not null", query: "INSERT INTO t VALUES (3, NULL, 'x')", want: errcode.SQLError},
		{name: "check", query: "INSERT INTO t VALUES (4, -1, 'y')", want: errcode.SQLError},
		{name: "attach", query: "ATTACH 'x.db' AS x", want: errcode.SQLNotAuthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := db.Exec(ctx, tt.query)
			wantCode(t, err, tt.want)
		})
	}
	rows, err := db.Query(ctx, "SELECT nope FROM t")
	if err == nil {
		rows.Close()
	}
	wantCode(t, err, errcode.SQLError)
}

func TestSQL_QueryCreatesEmptyDatabase(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	wantExists(t, s, db.ID(), false)
	if got := queryStrings(t, db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\\_roost\\_%' ESCAPE '\\'"); len(got) != 0 {
		t.Fatalf("user tables = %q, want none", got)
	}
	wantExists(t, s, db.ID(), true)
}

func TestSQL_FailedExecRollsBackItsEarlierStatements(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	ctx := t.Context()
	exec(t, ctx, db, "CREATE TABLE t (x)")
	_, err := db.Exec(ctx, "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); SELEC 3")
	wantCode(t, err, errcode.SQLError)
	if n := queryInt(t, db, "SELECT count(*) FROM t"); n != 0 {
		t.Fatalf("rows = %d after the failed Exec, want 0", n)
	}
}

func TestSQL_BindsNamedTypesAsTheirKind(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	type name string
	type flag bool
	got := queryStrings(t, db, "SELECT typeof(?1) || ':' || ?1 || ',' || typeof(?2) || ':' || ?2 || ',' || ?3 || ',' || ?4",
		level(7), name("ann"), flag(true), time.Duration(1500))
	if want := []string{"integer:7,text:ann,1,1500"}; !slices.Equal(got, want) {
		t.Fatalf("bound named types = %q, want %q", got, want)
	}
}

func TestSQL_UsageErrorsHaveCodeSQLError(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	ctx := t.Context()
	_, err := db.Exec(ctx, "SELECT ?", struct{}{})
	wantCode(t, err, errcode.SQLError)
	_, err = db.Query(ctx, "SELECT ?, ?", 1)
	wantCode(t, err, errcode.SQLError)
	_, err = db.Exec(ctx, "SELECT ?")
	wantCode(t, err, errcode.SQLError)
}
