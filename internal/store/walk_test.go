package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWalkFindsObjectFiles(t *testing.T) {
	s := newStore(t, Config{})
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c"} {
		db := openDB(t, s, objID(name))
		if err := db.Put(ctx, "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	openDB(t, s, objID("reader")) // never writes: no file
	found := map[string]bool{}
	err := s.Walk(func(f ObjectFile) error {
		if f.Class != testClass || f.Size == 0 || f.Modified.IsZero() {
			t.Errorf("walk: %+v", f)
		}
		found[f.ID.String()] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 3 || !found[objID("a").String()] || found[objID("reader").String()] {
		t.Fatalf("walk found %v", found)
	}
}

// A commit writes the WAL, not the database file: an object's Modified is
// its WAL's time when that is later.
func TestWalkModifiedIsTheLaterOfDatabaseAndWAL(t *testing.T) {
	s := newStore(t, Config{})
	db := openDB(t, s, objID("a"))
	put(t, db, "k", "v")
	file := filepath.Join(s.cfg.Dir, db.path)
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(file, old, old); err != nil {
		t.Fatal(err)
	}
	walTime := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(file+"-wal", walTime, walTime); err != nil {
		t.Fatal(err)
	}
	err := s.Walk(func(f ObjectFile) error {
		if !f.Modified.Equal(walTime) {
			t.Errorf("Modified %v, want the WAL's %v", f.Modified, walTime)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A crash in the middle of a create (in versions that wrote the database
// file in place) could leave it empty: such a file is no object, and the
// next write creates the object properly.
func TestEmptyDatabaseFileIsAnUnfinishedCreate(t *testing.T) {
	for _, mode := range createModes {
		t.Run(mode.name, func(t *testing.T) {
			_, s := createStore(t, t.TempDir(), mode.spare)
			testUnfinishedCreate(t, s)
		})
	}
}

func testUnfinishedCreate(t *testing.T, s *Store) {
	ctx := context.Background()
	id := objID("half")
	file := filepath.Join(s.abs, filepath.FromSlash(Path(testClass, id)))
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{file, file + "-wal", file + newSuffix} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := s.Exists(testClass, id); ok || err != nil {
		t.Fatalf("Exists = %v, %v for an empty file", ok, err)
	}
	n := 0
	if err := s.Walk(func(ObjectFile) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("Walk saw %d objects (%v)", n, err)
	}
	db := openDB(t, s, id)
	if err := db.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatalf("first write after an unfinished create: %v", err)
	}
	db = reopen(t, s, db)
	if v, ok, err := db.Get(ctx, "k"); string(v) != "v" || !ok || err != nil {
		t.Fatalf("Get = %q, %v, %v", v, ok, err)
	}
	if _, err := os.Stat(file + newSuffix); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
}

// SQLite opens files by URI: a data directory whose path holds URI syntax
// must still work.
func TestDataDirWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a#b?c=d%20e")
	s := newStore(t, Config{Dir: dir})
	db := openDB(t, s, objID("x"))
	if err := db.Put(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	db = reopen(t, s, db)
	if v, ok, err := db.Get(context.Background(), "k"); string(v) != "v" || !ok || err != nil {
		t.Fatalf("Get = %q, %v, %v", v, ok, err)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(Path(testClass, objID("x"))))); err != nil {
		t.Fatalf("the object's file is not where it belongs: %v", err)
	}
}
