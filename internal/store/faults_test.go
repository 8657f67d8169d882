package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/roost-dev/roost/internal/errcode"
)

// faultyDB returns a store with a fault injector and one object holding a
// committed KV pair ("committed") and table t with one row.
func faultyDB(t testing.TB) (*Faults, *Store, *DB) {
	t.Helper()
	faults := &Faults{}
	s, db := newTestDB(t, Config{Faults: faults})
	put(t, db, "committed", "1")
	exec(t, t.Context(), db, "CREATE TABLE t (x); INSERT INTO t VALUES ('committed')")
	return faults, s, db
}

// writeEvent runs one successful event that writes key and a row of t,
// with a value of size bytes.
func writeEvent(t testing.TB, db *DB, key string, size int) {
	t.Helper()
	event(t, db, true, func(ctx context.Context) {
		if err := db.Put(ctx, key, make([]byte, size)); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
		if _, err := db.Exec(ctx, "INSERT INTO t VALUES (?)", key); err != nil {
			t.Fatalf("insert %q: %v", key, err)
		}
	})
}

// wantOnlyCommitted fails the test unless db holds the committed data of
// faultyDB and nothing of key, and the file is sound.
func wantOnlyCommitted(t testing.TB, db *DB, key string) {
	t.Helper()
	wantValue(t, db, "committed", "1")
	wantMissing(t, db, key)
	if got := queryStrings(t, db, "SELECT x FROM t"); len(got) != 1 || got[0] != "committed" {
		t.Fatalf("t = %q, want [committed]", got)
	}
	wantIntegrity(t, db)
}

func TestFaults_FailedSyncFailsCommitAndLosesOnlyThatBatch(t *testing.T) {
	t.Parallel()
	for _, size := range []int{10, 100 << 10} { // one page; many pages
		t.Run(fmt.Sprintf("value=%d", size), func(t *testing.T) {
			t.Parallel()
			faults, s, db := faultyDB(t)
			writeEvent(t, db, "failed", size)
			faults.Fail(OpSync, "", 1)
			err := db.Commit()
			wantCode(t, err, errcode.StorageFailed)

			// The files as a power loss right now would leave them: the
			// failed commit's frames must not be found by recovery.
			crashDir := copyObject(t, s.cfg.Dir, db.ID())

			if err := db.Close(); err != nil {
				t.Logf("Close after the failed commit: %v", err)
			}
			db = openDB(t, s, db.ID())
			wantOnlyCommitted(t, db, "failed")
			// And the object works again.
			writeEvent(t, db, "later", size)
			commit(t, db)
			db = reopen(t, s, db)
			wantValue(t, db, "committed", "1")
			if _, ok := get(t, db, "later"); !ok {
				t.Fatal("write after recovery is missing")
			}

			crashed := openDB(t, newStore(t, Config{Dir: crashDir}), db.ID())
			wantOnlyCommitted(t, crashed, "failed")
		})
	}
}

func TestFaults_FailedWALSyncOnAutocommitPutFailsIt(t *testing.T) {
	t.Parallel()
	faults, s, db := faultyDB(t)
	faults.Fail(OpSync, "-wal", 1)
	err := db.Put(t.Context(), "failed", []byte("x"))
	wantCode(t, err, errcode.StorageFailed)
	crashDir := copyObject(t, s.cfg.Dir, db.ID())
	db.Close()
	db = openDB(t, s, db.ID())
	wantOnlyCommitted(t, db, "failed")
	wantOnlyCommitted(t, openDB(t, newStore(t, Config{Dir: crashDir}), db.ID()), "failed")
}

func TestFaults_FullDiskFailsCommit(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 1 << 20} { // one failed write; a disk that stays full
		t.Run(fmt.Sprintf("failures=%d", n), func(t *testing.T) {
			t.Parallel()
			faults, s, db := faultyDB(t)
			writeEvent(t, db, "failed", 100<<10)
			faults.Fail(OpWrite, "", n)
			err := db.Commit()
			wantCode(t, err, errcode.StorageFull)
			faults.Clear()
			if err := db.Close(); err != nil {
				t.Logf("Close after the failed commit: %v", err)
			}
			db = openDB(t, s, db.ID())
			wantOnlyCommitted(t, db, "failed")
			writeEvent(t, db, "later", 100<<10)
			commit(t, db)
			db = reopen(t, s, db)
			if _, ok := get(t, db, "later"); !ok {
				t.Fatal("write after Clear is missing")
			}
			wantIntegrity(t, db)
		})
	}
}

func TestFaults_FullDiskFailsAutocommitWrites(t *testing.T) {
	t.Parallel()
	faults, s, db := faultyDB(t)
	ctx := t.Context()
	faults.Fail(OpWrite, "", 1<<20)
	wantCode(t, db.Put(ctx, "failed", []byte("x")), errcode.StorageFull)
	_, err := db.Exec(ctx, "INSERT INTO t VALUES ('failed')")
	wantCode(t, err, errcode.StorageFull)
	// Reads still work on a full disk.
	wantValue(t, db, "committed", "1")
	faults.Clear()
	if err := db.Put(ctx, "later", []byte("2")); err != nil {
		t.Fatalf("Put after Clear: %v", err)
	}
	db = reopen(t, s, db)
	wantOnlyCommitted(t, db, "failed")
	wantValue(t, db, "later", "2")
}

func TestFaults_FullDiskWhileClosingKeepsCommittedData(t *testing.T) {
	t.Parallel()
	faults, s, db := faultyDB(t)
	writeEvent(t, db, "kept", 100<<10)
	commit(t, db)
	faults.Fail(OpWrite, "", 1<<20) // the checkpoint at close cannot write
	if err := db.Close(); err != nil {
		t.Logf("Close on a full disk: %v", err)
	}
	faults.Clear()
	db = openDB(t, s, db.ID())
	wantValue(t, db, "committed", "1")
	if _, ok := get(t, db, "kept"); !ok {
		t.Fatal("committed write lost after a failed checkpoint")
	}
	wantIntegrity(t, db)
}

// createStore opens a store with Faults whose creates take a spare, or
// write their files themselves.
func createStore(t *testing.T, dir string, spare bool) (*Faults, *Store) {
	faults := &Faults{}
	cfg := Config{Dir: dir, Faults: faults, Spares: -1}
	if spare {
		cfg.Spares = 1
	}
	s := newStore(t, cfg)
	if spare {
		waitSpares(t, s, 1)
	}
	return faults, s
}

// createModes are the two ways an object's files are created.
var createModes = []struct {
	name  string
	spare bool
}{{"spare", true}, {"no spare", false}}

func TestFaults_FailedSyncCreatingObjectLeavesNoBrokenFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		substr string // of the file whose next sync fails
	}{
		{name: "new file", substr: ""},
		{name: "first commit", substr: "-wal"},
	}
	for _, mode := range createModes {
		for _, tt := range tests {
			t.Run(mode.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				faults, s := createStore(t, dir, mode.spare)
				id := objID("new")
				db := openDB(t, s, id)
				ctx := t.Context()
				faults.Fail(OpSync, tt.substr, 1)
				err := db.Put(ctx, "first", []byte("1"))
				wantCode(t, err, errcode.StorageFailed)
				// A new object whose first write failed does not exist.
				wantExists(t, s, id, false)
				if names := objectFiles(t, dir); len(names) != 0 {
					t.Fatalf("files left after the failed create: %q", names)
				}
				// The next open and the next write work.
				db.Close()
				db = openDB(t, s, id)
				wantMissing(t, db, "first")
				if err := db.Put(ctx, "second", []byte("2")); err != nil {
					t.Fatalf("Put after the failed create: %v", err)
				}
				db = reopen(t, s, db)
				wantMissing(t, db, "first")
				wantValue(t, db, "second", "2")
				wantIntegrity(t, db)
			})
		}
	}
}

func TestFaults_FailedCreateRetriesOnSameDB(t *testing.T) {
	t.Parallel()
	for _, mode := range createModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			faults, s := createStore(t, t.TempDir(), mode.spare)
			db := openDB(t, s, objID("new"))
			faults.Fail(OpSync, "", 1)
			wantCode(t, db.Put(t.Context(), "first", []byte("1")), errcode.StorageFailed)
			put(t, db, "second", "2")
			db = reopen(t, s, db)
			wantMissing(t, db, "first")
			wantValue(t, db, "second", "2")
		})
	}
}

// Creating an object in an event: without a spare, the failed sync fails
// the write that creates the files; with one, it fails the commit (the
// directory is synced beside it). Either way no object is left, and the
// next write works.
func TestFaults_FailedSyncCreatingObjectInEventFailsCommitCleanly(t *testing.T) {
	t.Parallel()
	for _, mode := range createModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			faults, s := createStore(t, t.TempDir(), mode.spare)
			id := objID("new")
			db := openDB(t, s, id)
			faults.Fail(OpSync, "", 1)
			ctx := t.Context()
			if err := db.BeginEvent(ctx); err != nil {
				t.Fatal(err)
			}
			err := db.Put(ctx, "first", []byte("1"))
			if mode.spare {
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				if err := db.EndEvent(true); err != nil {
					t.Fatal(err)
				}
				wantCode(t, db.Commit(), errcode.StorageFailed)
			} else {
				wantCode(t, err, errcode.StorageFailed)
				if err := db.EndEvent(false); err != nil {
					t.Fatalf("EndEvent(false) after the failed create: %v", err)
				}
				if err := db.Commit(); err != nil {
					t.Fatalf("Commit of nothing: %v", err)
				}
			}
			wantExists(t, s, id, false)
			put(t, db, "second", "2")
			db = reopen(t, s, db)
			wantMissing(t, db, "first")
			wantValue(t, db, "second", "2")
		})
	}
}

func TestFaults_MatchFileSubstringAndCount(t *testing.T) {
	t.Parallel()
	faults, s, db := faultyDB(t)
	ctx := t.Context()
	faults.Fail(OpSync, "no-such-file", 1)
	put(t, db, "a", "1") // the rule does not match this object's files
	faults.Clear()
	put(t, db, "b", "2") // Clear removed it
	faults.Fail(OpSync, "-wal", 1)
	wantCode(t, db.Put(ctx, "c", []byte("3")), errcode.StorageFailed)
	db.Close()
	db = openDB(t, s, db.ID())
	put(t, db, "d", "4") // the one failure was used
	wantValue(t, db, "a", "1")
	wantValue(t, db, "b", "2")
	wantMissing(t, db, "c")
	wantValue(t, db, "d", "4")
}

// objectFiles lists the regular files beneath dir/objects.
func objectFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for p, h := range snapshot(t, filepath.Join(dir, objectsDir)) {
		if h != "dir" {
			out = append(out, p)
		}
	}
	return out
}
