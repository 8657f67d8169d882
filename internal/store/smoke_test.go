package store

import (
	"context"
	"testing"

	"github.com/roost-dev/roost/internal/ids"
)

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	s, err := Open(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := ids.FromName("c", "x")
	db, err := s.Open("c", id)
	if err != nil {
		t.Fatal(err)
	}
	db.SetSerial(true)
	db.BeginEvent(ctx)
	if err := db.Put(ctx, "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, "CREATE TABLE t(x); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if err := db.EndEvent(true); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"ATTACH 'x.db' AS x", "PRAGMA journal_mode=DELETE", "PRAGMA synchronous=OFF", "VACUUM INTO 'y.db'", "SELECT load_extension('x')", "SELECT * FROM _roost_kv", "BEGIN", "SELECT * FROM pragma_journal_mode", "PRAGMA main.locking_mode=NORMAL"} {
		_, err := db.Exec(ctx, q)
		t.Logf("%s => %v", q, err)
		if err == nil {
			t.Errorf("%s allowed", q)
		}
	}
	db.Close()
	db, err = s.Open("c", id)
	if err != nil {
		t.Fatal(err)
	}
	v, ok, err := db.Get(ctx, "a")
	t.Log(string(v), ok, err)
	rows, err := db.Query(ctx, "SELECT x FROM t")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var x int
		rows.Scan(&x)
		t.Log("x", x)
	}
	db.Close()
}
