package store

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/ids"
)

// An object that left memory keeps, once its time out of memory is up, a
// database holding its data and an empty WAL: its files shrink to what its
// data needs, and nothing of it is lost.
func TestCheckpoint_AnObjectOutOfMemoryKeepsOnlyItsData(t *testing.T) {
	t.Parallel()
	for _, sync := range []Sync{SyncNormal, SyncFull} {
		t.Run(string(sync), func(t *testing.T) {
			s := newStore(t, Config{Synchronous: sync, CheckpointAfter: 20 * time.Millisecond})
			db := openDB(t, s, objID("shrinks"))
			for i := range 20 {
				put(t, db, "k"+strconv.Itoa(i), fmt.Sprintf("%0500d", i))
			}
			walBefore := fileSize(t, s, db.path+"-wal")
			if walBefore == 0 {
				t.Fatal("the object's WAL is empty after 20 commits")
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the WAL truncated", func() bool { return fileSize(t, s, db.path+"-wal") == 0 })
			t.Logf("WAL %d bytes while in memory, 0 once out; database %d bytes", walBefore, fileSize(t, s, db.path))

			db = openDB(t, s, objID("shrinks"))
			for i := range 20 {
				wantValue(t, db, "k"+strconv.Itoa(i), fmt.Sprintf("%0500d", i))
			}
			put(t, db, "after", "v") // the empty WAL takes commits again
			db = reopen(t, s, db)
			wantValue(t, db, "after", "v")
		})
	}
}

// The WALs that a previous run left behind (its objects left memory before
// it stopped) shrink after a restart, without the objects being opened.
func TestCheckpoint_AtStartupTheWALsLeftBehindShrink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, Synchronous: SyncNormal, CheckpointAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for i := range 5 {
		db, err := s.Open(testClass, objID("left-"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		put(t, db, "k", strconv.Itoa(i))
		paths = append(paths, db.path)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = newStore(t, Config{Dir: dir, Synchronous: SyncNormal, CheckpointAfter: 300 * time.Millisecond})
	for _, p := range paths {
		if fileSize(t, s, p+"-wal") == 0 {
			t.Fatalf("%s: the WAL was empty before the restart's checkpoints", p)
		}
	}
	waitFor(t, 10*time.Second, "every WAL left behind truncated", func() bool {
		for _, p := range paths {
			if fileSize(t, s, p+"-wal") > 0 {
				return false
			}
		}
		return true
	})
	for i := range 5 {
		db := openDB(t, s, objID("left-"+strconv.Itoa(i)))
		wantValue(t, db, "k", strconv.Itoa(i))
	}
}

// Objects opened again and again while their checkpoints come due never
// meet one: an open waits for a checkpoint in progress and cancels a
// pending one, so every open succeeds and reads every write.
func TestCheckpoint_OpensNeverMeetACheckpoint(t *testing.T) {
	t.Parallel()
	s := newStore(t, Config{Synchronous: SyncNormal, CheckpointAfter: time.Microsecond})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			id := objID("busy-" + strconv.Itoa(w))
			for i := range 100 {
				if err := putAndClose(t.Context(), s, id, i); err != nil {
					t.Errorf("object %d, round %d: %v", w, i, err)
					return
				}
				if i%10 == 0 {
					time.Sleep(time.Millisecond) // let the checkpoint start
				}
			}
		})
	}
	wg.Wait()
}

// putAndClose opens the object, checks that it holds round-1, writes round
// and closes it.
func putAndClose(ctx context.Context, s *Store, id ids.ID, round int) error {
	db, err := s.Open(testClass, id)
	if err != nil {
		return err
	}
	defer db.Close()
	v, ok, err := db.Get(ctx, "round")
	if err != nil {
		return err
	}
	if want := strconv.Itoa(round - 1); round > 0 && (!ok || string(v) != want) {
		return fmt.Errorf("read %q (%v), want %q", v, ok, want)
	}
	if err := db.BeginEvent(ctx); err != nil {
		return err
	}
	if err := db.Put(ctx, "round", []byte(strconv.Itoa(round))); err != nil {
		return err
	}
	if err := db.EndEvent(true); err != nil {
		return err
	}
	if err := db.Commit(); err != nil {
		return err
	}
	return db.Close()
}

// fileSize returns the size of a file of the data directory (0 if none).
func fileSize(t *testing.T, s *Store, name string) int64 {
	t.Helper()
	fi, err := s.root.Stat(name)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("not within %v: %s", d, what)
}
