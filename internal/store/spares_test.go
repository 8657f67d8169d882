package store

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// waitSpares waits until s has n spares ready.
func waitSpares(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.spares.count() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d spares ready, want %d", s.spares.count(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// spareFiles lists the files in the spare directories beneath dir.
func spareFiles(t *testing.T, dir string) []string {
	t.Helper()
	got, err := filepath.Glob(filepath.Join(dir, spareDir, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func inode(t *testing.T, file string) uint64 {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// New objects take their files from the spares, which are refilled once
// half are taken; each object is a working database of its own, after a
// reopen too.
func TestSpares_NewObjectsTakeSparesWhichAreRefilled(t *testing.T) {
	t.Parallel()
	for _, mode := range []Sync{SyncFull, SyncNormal} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := newStore(t, Config{Dir: dir, Synchronous: mode, Spares: 4})
			waitSpares(t, s, 4)
			if n := len(spareFiles(t, dir)); n != 8 {
				t.Fatalf("%d spare files, want a database and a WAL for each of 4", n)
			}
			inodes := map[uint64]bool{}
			for _, f := range spareFiles(t, dir) {
				inodes[inode(t, f)] = true
			}
			create := func(i int) *DB {
				db := openDB(t, s, objID(fmt.Sprint(i)))
				put(t, db, "k", fmt.Sprint(i))
				db.Close()
				return db
			}
			// One take leaves three: no refill yet.
			if db := create(0); !inodes[inode(t, filepath.Join(dir, db.path))] {
				t.Fatal("the first new object's file is not one of the spares")
			}
			if n := s.spares.count(); n != 3 {
				t.Fatalf("%d spares after one take, want 3", n)
			}
			// The second leaves half: refilled to four.
			create(1)
			waitSpares(t, s, 4)
			const objects = 12 // more than the spares: some creates may find none ready
			for i := 2; i < objects; i++ {
				create(i)
			}
			for i := range objects {
				db := openDB(t, s, objID(fmt.Sprint(i)))
				wantValue(t, db, "k", fmt.Sprint(i))
				wantIntegrity(t, db)
				db.Close()
			}
		})
	}
}

// A store removes the spare directories that stores which are gone left
// behind (a crash), and removes its own when it closes.
func TestSpares_DirectoriesOfGoneStoresAreRemoved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stale := filepath.Join(dir, spareDir, "0123456789abcdef")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "1.db"), []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	first, err := Open(Config{Dir: dir, Spares: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("the stale spare directory is still there: %v", err)
	}
	waitSpares(t, first, 2)
	if n := len(spareFiles(t, dir)); n != 4 {
		t.Fatalf("%d spare files, want 4 (two objects' database and WAL)", n)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(spareFiles(t, dir)); n != 0 {
		t.Fatalf("%d spare files after the store closed, want none", n)
	}
}

// With no spares, creates write their files themselves.
func TestSpares_None(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newStore(t, Config{Dir: dir, Spares: -1})
	db := openDB(t, s, objID("a"))
	put(t, db, "k", "v")
	db = reopen(t, s, db)
	wantValue(t, db, "k", "v")
	if _, err := os.Stat(filepath.Join(dir, spareDir)); !os.IsNotExist(err) {
		t.Fatalf("a spare directory exists: %v", err)
	}
}

// Close stops the spares' filler and releases the directory once; a second
// Close returns the first one's result.
func TestStore_CloseTwice(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, Spares: 2})
	if err != nil {
		t.Fatal(err)
	}
	waitSpares(t, s, 2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	again := newStore(t, Config{Dir: dir}) // the lock was released
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}
