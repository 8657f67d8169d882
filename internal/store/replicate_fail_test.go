package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/ids"
)

// wantSame fails the test unless the object restored into s holds what db
// holds.
func wantSame(t testing.TB, s *Store, db *DB) {
	t.Helper()
	d, err := dump(db)
	if err != nil {
		t.Fatal(err)
	}
	wantRestored(t, s, map[ids.ID]string{db.ID(): d})
}

// failedCommit puts key in a batch whose Append fails, and checks that the
// commit fails and the DB is broken.
func failedCommit(t *testing.T, rec *recorder, db *DB, key string) {
	t.Helper()
	n := rec.count(testClass, db.ID())
	rec.failNext(testClass, db.ID())
	event(t, db, true, func(ctx context.Context) {
		if err := db.Put(ctx, key, []byte("lost")); err != nil {
			t.Fatalf("Put: %v", err)
		}
	})
	if err := db.Commit(); !errors.Is(err, errAppend) {
		t.Fatalf("Commit with a failing Append = %v, want %v", err, errAppend)
	}
	if got := rec.count(testClass, db.ID()); got != n {
		t.Fatalf("the log has %d records after a failed Append, want %d", got, n)
	}
	if err := db.Put(t.Context(), "after", nil); err == nil {
		t.Fatal("Put after a failed commit succeeded, want the DB broken")
	}
}

// TestReplicateAppendFails checks that a failed Append fails the commit,
// and that the next Open rebuilds the file without the batch.
func TestReplicateAppendFails(t *testing.T) {
	for _, sync := range []Sync{SyncNormal, SyncFull} {
		t.Run(string(sync), func(t *testing.T) { appendFails(t, sync) })
	}
}

func appendFails(t *testing.T, sync Sync) {
	rec := newRecorder()
	a, b := replStoreSync(t, rec, keepLocal, sync), replStore(t, rec, replayAll)
	db := openDB(t, a, objID("fails"))
	put(t, db, "kept", "1")
	failedCommit(t, rec, db, "lost")
	restores := rec.restores
	db = reopen(t, a, db)
	if rec.restores != restores+1 {
		t.Fatalf("Open after a failed Append restored %d times, want once", rec.restores-restores)
	}
	wantValue(t, db, "kept", "1")
	wantMissing(t, db, "lost")
	wantIntegrity(t, db)
	put(t, db, "next", "2")
	wantSame(t, b, db)

	t.Run("first commit", func(t *testing.T) {
		db := openDB(t, a, objID("fails-first"))
		failedCommit(t, rec, db, "lost")
		db = reopen(t, a, db)
		wantExists(t, a, db.ID(), false)
		put(t, db, "new", "3")
		wantSame(t, b, db)
	})
}

// TestReplicateShipsNothing checks that a batch that writes no page ships
// nothing, with the WAL in the middle of a generation and empty.
func TestReplicateShipsNothing(t *testing.T) {
	rec := newRecorder()
	s := replStore(t, rec, keepLocal)
	db := openDB(t, s, objID("nothing"))
	idle := func(what string) {
		t.Helper()
		n := rec.count(testClass, db.ID())
		event(t, db, true, func(ctx context.Context) {
			get(t, db, "k")
			queryStrings(t, db, "SELECT a FROM t")
			if _, err := db.Delete(ctx, "missing"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		})
		commit(t, db)
		if got := rec.count(testClass, db.ID()); got != n {
			t.Fatalf("%s: a batch that wrote nothing shipped %d records", what, got-n)
		}
	}
	exec(t, t.Context(), db, "CREATE TABLE t (a TEXT)")
	put(t, db, "k", "v")
	idle("after a commit")
	db = reopen(t, s, db)
	idle("after a reopen")
	empty := openDB(t, s, objID("nothing-new"))
	if _, _, err := empty.Get(t.Context(), "k"); err != nil || empty.Commit() != nil {
		t.Fatalf("read of a new object: %v", err)
	}
	wantExists(t, s, empty.ID(), false)
	if n := rec.count(testClass, empty.ID()); n != 0 {
		t.Fatalf("a new object's read shipped %d records", n)
	}
}

// TestReplicateRolledBackCreate checks an object whose file was created by
// a batch that was rolled back, then closed: its next commit must still
// ship the base the log never had.
func TestReplicateRolledBackCreate(t *testing.T) {
	rec := newRecorder()
	a, b := replStore(t, rec, keepLocal), replStore(t, rec, replayAll)
	db := openDB(t, a, objID("rolled-back"))
	event(t, db, true, func(ctx context.Context) {
		if err := db.Put(ctx, "k", []byte("v")); err != nil {
			t.Fatalf("Put: %v", err)
		}
	})
	db.Rollback()
	db = reopen(t, a, db)
	put(t, db, "k2", "v2")
	wantSame(t, b, db)
}

// TestReplicateAdminWrite checks that an operator's write reaches the log
// before AdminQuery returns, on an object with a file and a new one.
func TestReplicateAdminWrite(t *testing.T) {
	rec := newRecorder()
	a, b := replStore(t, rec, keepLocal), replStore(t, rec, replayAll)
	for _, name := range []string{"admin-old", "admin-new"} {
		db := openDB(t, a, objID(name))
		if name == "admin-old" {
			put(t, db, "k", "v")
		}
		_, err := db.AdminQuery(t.Context(), "CREATE TABLE t (a); INSERT INTO t VALUES (1)", nil, true, 0)
		if err != nil {
			t.Fatalf("AdminQuery: %v", err)
		}
		db = reopen(t, a, db)
		wantSame(t, b, db)
	}
}

// TestReplicateQueryOutsideEvent checks that a write made by Query outside
// any batch (a concurrent class's) reaches the log when its rows close.
func TestReplicateQueryOutsideEvent(t *testing.T) {
	rec := newRecorder()
	a, b := replStore(t, rec, keepLocal), replStore(t, rec, replayAll)
	db := openDB(t, a, objID("query"))
	db.SetSerial(false)
	exec(t, t.Context(), db, "CREATE TABLE t (a TEXT)")
	n := rec.count(testClass, db.ID())
	if got := queryStrings(t, db, "INSERT INTO t VALUES ('x') RETURNING a"); len(got) != 1 {
		t.Fatalf("INSERT … RETURNING = %q", got)
	}
	if got := rec.count(testClass, db.ID()); got != n+1 {
		t.Fatalf("the write shipped %d records, want 1", got-n)
	}
	queryStrings(t, db, "SELECT a FROM t")
	if got := rec.count(testClass, db.ID()); got != n+1 {
		t.Fatalf("a read shipped %d records", got-n-1)
	}
	db = reopen(t, a, db)
	wantSame(t, b, db)
}

// TestReplicateImport checks that an import (one transaction through the
// object's WAL) reaches the log, into a new object and over one with data.
func TestReplicateImport(t *testing.T) {
	rec := newRecorder()
	a, b := replStore(t, rec, keepLocal), replStore(t, rec, replayAll)
	src := openDB(t, a, objID("import-src"))
	fillObject(t, src)
	file := export(t, src)
	for _, name := range []string{"import-new", "import-old"} {
		db := openDB(t, a, objID(name))
		if name == "import-old" {
			put(t, db, "old", string(make([]byte, 300<<10)))
		}
		if err := db.Import(t.Context(), file, true); err != nil {
			t.Fatalf("Import: %v", err)
		}
		db = reopen(t, a, db)
		wantFilled(t, db)
		wantSame(t, b, db)
	}
}

// bigEvent puts 3 MiB in one event, more than the page cache: SQLite
// writes (spills) pages to the WAL before the commit.
func bigEvent(t *testing.T, db *DB, ok bool) {
	event(t, db, ok, func(ctx context.Context) {
		for i := range 3 {
			if err := db.Put(ctx, string(rune('a'+i)), make([]byte, 1<<20)); err != nil {
				t.Fatalf("Put: %v", err)
			}
		}
	})
}

// TestReplicateSpill checks the pages a rolled-back write spilled to the
// WAL: a rolled-back event's come before the commit's own versions; a
// rolled-back batch's stay in the WAL after a smaller commit.
func TestReplicateSpill(t *testing.T) {
	rec := newRecorder()
	a, b := replStore(t, rec, keepLocal), replStore(t, rec, replayAll)
	db := openDB(t, a, objID("spill"))
	put(t, db, "k", "v")
	bigEvent(t, db, false)
	put(t, db, "k2", "v2")
	wantSame(t, b, db)
	bigEvent(t, db, true)
	db.Rollback()
	put(t, db, "k3", "v3")
	db.mu.Lock()
	left := db.tail.off
	db.mu.Unlock()
	wal, err := os.Stat(filepath.Join(a.abs, filepath.FromSlash(Path(testClass, db.ID()))+"-wal"))
	if err != nil || wal.Size() <= left+4096 {
		t.Fatalf("the WAL is %v bytes (%v), want the rolled-back frames after %d", wal.Size(), err, left)
	}
	wantSame(t, b, db)
	put(t, db, "k4", "v4")
	wantSame(t, b, db)
}

// TestReplicateRemove checks that an operator's Remove reaches the log.
func TestReplicateRemove(t *testing.T) {
	rec := newRecorder()
	a, b := replStore(t, rec, keepLocal), replStore(t, rec, replayAll)
	db := openDB(t, a, objID("remove"))
	put(t, db, "k", "v")
	if err := db.Remove(t.Context()); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	wantSame(t, b, db)
	put(t, db, "k2", "v2")
	wantSame(t, b, db)
}

// timerCalls records what a TimerIndex heard.
type timerCalls struct {
	mu        sync.Mutex
	committed []time.Time
}

func (c *timerCalls) Prepare(string, ids.ID, time.Time, bool) error { return nil }

func (c *timerCalls) Committed(_ string, _ ids.ID, next time.Time, _ int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.committed = append(c.committed, next)
}

// A batch that did not reach the log tells the timer index nothing: its
// deletion of the object's last timer is undone, and an index told of it
// would forget the wake of the state that stands (in a cluster, the wake
// the shard's next owner needs to fire the timer).
func TestReplicateAppendFails_LeavesTheTimerIndex(t *testing.T) {
	rec, idx := newRecorder(), &timerCalls{}
	s := newStore(t, Config{Log: recLog{rec: rec, mode: keepLocal}, Timers: idx})
	db := openDB(t, s, objID("timed"))
	due := time.UnixMilli(time.Now().Add(time.Hour).UnixMilli())
	event(t, db, true, func(ctx context.Context) {
		if err := db.SetTimer(ctx, Timer{Name: "alarm", Kind: "alarm", Due: due, Scheduled: due}); err != nil {
			t.Fatal(err)
		}
	})
	commit(t, db)
	if len(idx.committed) != 1 || !idx.committed[0].Equal(due) {
		t.Fatalf("after setting the timer the index heard %v, want [%v]", idx.committed, due)
	}

	rec.failNext(testClass, db.ID())
	event(t, db, true, func(ctx context.Context) {
		if _, err := db.DeleteTimer(ctx, "alarm"); err != nil {
			t.Fatal(err)
		}
	})
	if err := db.Commit(); !errors.Is(err, errAppend) {
		t.Fatalf("Commit with a failing Append = %v, want %v", err, errAppend)
	}
	if len(idx.committed) != 1 {
		t.Fatalf("a commit that did not reach the log told the index %v", idx.committed[1:])
	}
}
