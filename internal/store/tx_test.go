package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestTx_FailedEventWritesAreRolledBack(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	ctx := t.Context()
	exec(t, ctx, db, "CREATE TABLE t (x)")
	put(t, db, "kept", "1")
	event(t, db, false, func(ctx context.Context) {
		if err := db.Put(ctx, "lost", []byte("2")); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, "INSERT INTO t VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Delete(ctx, "kept"); err != nil {
			t.Fatal(err)
		}
		// The event reads its own writes.
		wantValue(t, db, "lost", "2")
		wantMissing(t, db, "kept")
	})
	wantMissing(t, db, "lost")
	wantValue(t, db, "kept", "1")
	commit(t, db)
	db = reopen(t, s, db)
	wantMissing(t, db, "lost")
	wantValue(t, db, "kept", "1")
	if n := queryInt(t, db, "SELECT count(*) FROM t"); n != 0 {
		t.Fatalf("rows = %d, want 0", n)
	}
}

func TestTx_CommittedEventIsDurable(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	event(t, db, true, func(ctx context.Context) {
		if err := db.Put(ctx, "a", []byte("1")); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, "CREATE TABLE t (x); INSERT INTO t VALUES (42)"); err != nil {
			t.Fatal(err)
		}
	})
	commit(t, db)
	db = reopen(t, s, db)
	wantValue(t, db, "a", "1")
	if n := queryInt(t, db, "SELECT x FROM t"); n != 42 {
		t.Fatalf("x = %d, want 42", n)
	}
}

func TestTx_BatchKeepsEventsAroundFailedOne(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	for i, k := range []string{"first", "middle", "last"} {
		event(t, db, i != 1, func(ctx context.Context) {
			if err := db.Put(ctx, k, []byte(k)); err != nil {
				t.Fatal(err)
			}
		})
	}
	commit(t, db)
	db = reopen(t, s, db)
	wantValue(t, db, "first", "first")
	wantMissing(t, db, "middle")
	wantValue(t, db, "last", "last")
}

func TestTx_CommitWithoutWritesIsNoop(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	commit(t, db)
	event(t, db, true, func(ctx context.Context) {})
	commit(t, db)
	commit(t, db)
	wantExists(t, s, db.ID(), false)
}

func TestTx_UncommittedBatchIsLostOnClose(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	put(t, db, "committed", "1")
	event(t, db, true, func(ctx context.Context) {
		if err := db.Put(ctx, "uncommitted", []byte("2")); err != nil {
			t.Fatal(err)
		}
	})
	db = reopen(t, s, db) // no Commit
	wantValue(t, db, "committed", "1")
	wantMissing(t, db, "uncommitted")
}

func TestTx_RollbackDiscardsBatch(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	put(t, db, "committed", "1")
	event(t, db, true, func(ctx context.Context) {
		if err := db.Put(ctx, "rolled-back", []byte("2")); err != nil {
			t.Fatal(err)
		}
	})
	db.Rollback()
	commit(t, db)
	wantMissing(t, db, "rolled-back")
	put(t, db, "after", "3")
	db = reopen(t, s, db)
	wantMissing(t, db, "rolled-back")
	wantValue(t, db, "after", "3")
}

var errTest = errors.New("test error")

func TestTx_TransactionRollsBackWhenFnFails(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	event(t, db, true, func(ctx context.Context) {
		if err := db.Put(ctx, "before", []byte("1")); err != nil {
			t.Fatal(err)
		}
		err := db.Transaction(ctx, func(ctx context.Context) error {
			if err := db.Put(ctx, "inside", []byte("2")); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Delete(ctx, "before"); err != nil {
				t.Fatal(err)
			}
			wantValue(t, db, "inside", "2")
			return errTest
		})
		if !errors.Is(err, errTest) {
			t.Fatalf("Transaction = %v, want fn's error", err)
		}
		wantMissing(t, db, "inside")
		wantValue(t, db, "before", "1")
		// The event goes on.
		if err := db.Put(ctx, "after", []byte("3")); err != nil {
			t.Fatal(err)
		}
	})
	commit(t, db)
	db = reopen(t, s, db)
	wantValue(t, db, "before", "1")
	wantMissing(t, db, "inside")
	wantValue(t, db, "after", "3")
}

func TestTx_TransactionRollsBackAndRepanicsWhenFnPanics(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	event(t, db, true, func(ctx context.Context) {
		if err := db.Put(ctx, "before", []byte("1")); err != nil {
			t.Fatal(err)
		}
		p := func() (p any) {
			defer func() { p = recover() }()
			_ = db.Transaction(ctx, func(ctx context.Context) error {
				if err := db.Put(ctx, "inside", []byte("2")); err != nil {
					t.Fatal(err)
				}
				panic("boom")
			})
			return nil
		}()
		if p != "boom" {
			t.Fatalf("recovered %v, want the panic re-raised", p)
		}
		wantMissing(t, db, "inside")
		if err := db.Put(ctx, "after", []byte("3")); err != nil {
			t.Fatal(err)
		}
	})
	commit(t, db)
	db = reopen(t, s, db)
	wantValue(t, db, "before", "1")
	wantMissing(t, db, "inside")
	wantValue(t, db, "after", "3")
}

func TestTx_TransactionKeepsWritesWhenFnSucceeds(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	event(t, db, true, func(ctx context.Context) {
		err := db.Transaction(ctx, func(ctx context.Context) error {
			if _, err := db.Exec(ctx, "CREATE TABLE t (x); INSERT INTO t VALUES (1)"); err != nil {
				return err
			}
			return db.Put(ctx, "inside", []byte("2"))
		})
		if err != nil {
			t.Fatalf("Transaction: %v", err)
		}
	})
	commit(t, db)
	db = reopen(t, s, db)
	wantValue(t, db, "inside", "2")
	if n := queryInt(t, db, "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("rows = %d, want 1", n)
	}
}

func TestTx_NestedTransactionRollsBackOnlyItself(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	event(t, db, true, func(ctx context.Context) {
		err := db.Transaction(ctx, func(ctx context.Context) error {
			if err := db.Put(ctx, "outer", []byte("1")); err != nil {
				return err
			}
			if err := db.Transaction(ctx, func(ctx context.Context) error {
				if err := db.Put(ctx, "inner", []byte("2")); err != nil {
					return err
				}
				return errTest
			}); !errors.Is(err, errTest) {
				t.Fatalf("inner Transaction = %v, want fn's error", err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("outer Transaction: %v", err)
		}
	})
	commit(t, db)
	db = reopen(t, s, db)
	wantValue(t, db, "outer", "1")
	wantMissing(t, db, "inner")
}

func TestTx_FailedEventRollsBackItsCommittedTransaction(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	event(t, db, false, func(ctx context.Context) {
		if err := db.Transaction(ctx, func(ctx context.Context) error {
			return db.Put(ctx, "inside", []byte("1"))
		}); err != nil {
			t.Fatal(err)
		}
	})
	commit(t, db)
	db = reopen(t, s, db)
	wantMissing(t, db, "inside")
}

func TestTx_TransactionOutsideEventCommitsOnItsOwn(t *testing.T) {
	t.Parallel()
	for _, serial := range []bool{true, false} {
		name := "serial=false"
		if serial {
			name = "serial=true"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, db := newTestDB(t, Config{})
			db.SetSerial(serial)
			ctx := t.Context()
			err := db.Transaction(ctx, func(ctx context.Context) error {
				if err := db.Put(ctx, "a", []byte("1")); err != nil {
					return err
				}
				if _, err := db.Exec(ctx, "CREATE TABLE t (x); INSERT INTO t VALUES (1)"); err != nil {
					return err
				}
				// Reads inside fn use its ctx (the outer one would wait for
				// the transaction in a non-serial object).
				if v, ok, err := db.Get(ctx, "a"); err != nil || !ok || string(v) != "1" {
					t.Errorf("Get(a) inside Transaction = %q, %t, %v; want 1", v, ok, err)
				}
				return db.Put(ctx, "b", []byte("2"))
			})
			if err != nil {
				t.Fatalf("Transaction: %v", err)
			}
			err = db.Transaction(ctx, func(ctx context.Context) error {
				if err := db.Put(ctx, "c", []byte("3")); err != nil {
					return err
				}
				return errTest
			})
			if !errors.Is(err, errTest) {
				t.Fatalf("failing Transaction = %v, want fn's error", err)
			}
			db = reopen(t, s, db) // no Commit: each Transaction committed itself
			wantValue(t, db, "a", "1")
			wantValue(t, db, "b", "2")
			wantMissing(t, db, "c")
			if n := queryInt(t, db, "SELECT count(*) FROM t"); n != 1 {
				t.Fatalf("rows = %d, want 1", n)
			}
		})
	}
}

func TestTx_PutOutsideEventIsDurable(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	ctx := t.Context()
	if err := db.Put(ctx, "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, "CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	db = reopen(t, s, db)
	wantValue(t, db, "a", "1")
	if n := queryInt(t, db, "SELECT count(*) FROM t"); n != 0 {
		t.Fatalf("rows = %d, want 0", n)
	}
}

// deleteAllDB returns a DB whose object has KV pairs and SQL tables with an
// index, a view, a trigger and a foreign key, all committed.
func deleteAllDB(t testing.TB) (*Store, *DB) {
	t.Helper()
	s, db := newTestDB(t, Config{})
	ctx := t.Context()
	put(t, db, "a", "1")
	put(t, db, "b", "2")
	exec(t, ctx, db, `
		CREATE TABLE parent (id INTEGER PRIMARY KEY);
		CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent (id));
		CREATE INDEX child_parent ON child (parent);
		CREATE VIEW kids AS SELECT * FROM child;
		CREATE TABLE log (msg);
		CREATE TRIGGER child_log AFTER INSERT ON child BEGIN INSERT INTO log VALUES ('added'); END;
		INSERT INTO parent VALUES (1);
		INSERT INTO child VALUES (1, 1);
	`)
	return s, db
}

// userSchema lists the user's tables, indexes, views and triggers.
func userSchema(t testing.TB, db *DB) []string {
	t.Helper()
	return queryStrings(t, db, `SELECT type || ' ' || name FROM sqlite_schema WHERE name NOT LIKE '\_roost\_%' ESCAPE '\' ORDER BY 1`)
}

func TestDeleteAll_RemovesEverythingAndFilesOnCommit(t *testing.T) {
	t.Parallel()
	s, db := deleteAllDB(t)
	dir := s.cfg.Dir
	event(t, db, true, func(ctx context.Context) {
		if err := db.DeleteAll(ctx); err != nil {
			t.Fatalf("DeleteAll: %v", err)
		}
		wantMissing(t, db, "a")
		if got := userSchema(t, db); len(got) != 0 {
			t.Fatalf("schema after DeleteAll = %q, want empty", got)
		}
	})
	wantExists(t, s, db.ID(), true)
	commit(t, db)
	wantExists(t, s, db.ID(), false)
	file := filepath.Join(dir, Path(testClass, db.ID()))
	for _, f := range []string{file, file + "-wal", file + "-journal", file + "-shm"} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("stat %s after DeleteAll: %v, want not exist", f, err)
		}
	}
	// The object is empty, reads create no file, and it can write again.
	wantMissing(t, db, "a")
	wantExists(t, s, db.ID(), false)
	put(t, db, "c", "3")
	db = reopen(t, s, db)
	wantMissing(t, db, "a")
	wantValue(t, db, "c", "3")
	if got := userSchema(t, db); len(got) != 0 {
		t.Fatalf("schema after DeleteAll and a write = %q, want empty", got)
	}
}

func TestDeleteAll_WriteLaterInBatchKeepsFile(t *testing.T) {
	t.Parallel()
	s, db := deleteAllDB(t)
	event(t, db, true, func(ctx context.Context) {
		if err := db.DeleteAll(ctx); err != nil {
			t.Fatal(err)
		}
	})
	event(t, db, true, func(ctx context.Context) {
		if err := db.Put(ctx, "new", []byte("1")); err != nil {
			t.Fatal(err)
		}
	})
	commit(t, db)
	wantExists(t, s, db.ID(), true)
	db = reopen(t, s, db)
	list, err := db.List(t.Context(), ListOptions{})
	if err != nil || len(list) != 1 || list[0].Key != "new" {
		t.Fatalf("List = %q, %v; want only new", list, err)
	}
	if got := userSchema(t, db); len(got) != 0 {
		t.Fatalf("schema = %q, want empty", got)
	}
}

func TestDeleteAll_RolledBackEventKeepsEverything(t *testing.T) {
	t.Parallel()
	s, db := deleteAllDB(t)
	want := userSchema(t, db)
	event(t, db, false, func(ctx context.Context) {
		if err := db.DeleteAll(ctx); err != nil {
			t.Fatal(err)
		}
	})
	commit(t, db)
	wantExists(t, s, db.ID(), true)
	db = reopen(t, s, db)
	wantValue(t, db, "a", "1")
	wantValue(t, db, "b", "2")
	if got := userSchema(t, db); !slices.Equal(got, want) {
		t.Fatalf("schema = %q, want %q", got, want)
	}
	wantIntegrity(t, db)
}

func TestDeleteAll_RolledBackTransactionKeepsEverything(t *testing.T) {
	t.Parallel()
	s, db := deleteAllDB(t)
	event(t, db, true, func(ctx context.Context) {
		err := db.Transaction(ctx, func(ctx context.Context) error {
			if err := db.DeleteAll(ctx); err != nil {
				return err
			}
			return errTest
		})
		if !errors.Is(err, errTest) {
			t.Fatalf("Transaction = %v, want fn's error", err)
		}
	})
	commit(t, db)
	wantExists(t, s, db.ID(), true)
	db = reopen(t, s, db)
	wantValue(t, db, "a", "1")
	if n := queryInt(t, db, "SELECT count(*) FROM child"); n != 1 {
		t.Fatalf("child rows = %d, want 1", n)
	}
}
