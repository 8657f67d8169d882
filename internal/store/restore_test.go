package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roost-dev/roost/internal/ids"
)

func TestLog_FailedAppendFailsCommitAndNextOpenRebuilds(t *testing.T) {
	t.Parallel()
	log := newRecordLog()
	s, db := newTestDB(t, Config{Log: log})
	put(t, db, "a", "1")
	fenced := errors.New("fenced")
	log.failAppend = fenced
	event(t, db, true, func(ctx context.Context) {
		if err := db.Put(ctx, "a", []byte("2")); err != nil {
			t.Fatal(err)
		}
	})
	if err := db.Commit(); !errors.Is(err, fenced) {
		t.Fatalf("Commit with a failing Append = %v, want %v", err, fenced)
	}
	if _, _, err := db.Get(t.Context(), "a"); !errors.Is(err, fenced) {
		t.Fatalf("Get after the failed commit = %v, want the commit's error", err)
	}
	log.failAppend = nil
	restores := log.restores
	db = reopen(t, s, db)
	if log.restores != restores+1 {
		t.Fatalf("Restore calls = %d, want %d", log.restores, restores+1)
	}
	wantValue(t, db, "a", "1") // the log's: the failed batch was never acknowledged
	put(t, db, "b", "3")
	db = reopen(t, s, db)
	wantValue(t, db, "b", "3")
	wantIntegrity(t, db)
}

func TestLog_FailedFirstAppendLeavesNoObject(t *testing.T) {
	t.Parallel()
	log := newRecordLog()
	s, db := newTestDB(t, Config{Log: log})
	log.failAppend = errors.New("log unreachable")
	event(t, db, true, func(ctx context.Context) {
		if err := db.Put(ctx, "a", []byte("1")); err != nil {
			t.Fatal(err)
		}
	})
	if err := db.Commit(); err == nil {
		t.Fatal("Commit with a failing Append succeeded")
	}
	log.failAppend = nil
	db = reopen(t, s, db)
	wantMissing(t, db, "a")
	wantExists(t, s, db.ID(), false)
}

func TestLog_FailedRestoreFailsOpen(t *testing.T) {
	t.Parallel()
	log := newRecordLog()
	s := newStore(t, Config{Log: log})
	log.failRestore = errors.New("fenced")
	if _, err := s.Open(testClass, objID("x")); !errors.Is(err, log.failRestore) {
		t.Fatalf("Open = %v, want the Restore's error", err)
	}
}

func TestLog_DeleteAllAndRemoveShipRemoved(t *testing.T) {
	t.Parallel()
	log := newRecordLog()
	_, db := newTestDB(t, Config{Log: log})
	put(t, db, "a", "1")
	event(t, db, true, func(ctx context.Context) {
		if err := db.DeleteAll(ctx); err != nil {
			t.Fatal(err)
		}
	})
	commit(t, db)
	put(t, db, "b", "2")
	if err := db.Remove(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ch := range log.changes[db.ID()] {
		got = append(got, map[bool]string{true: "removed", false: "pages"}[ch.Removed]+map[bool]string{true: "+base", false: ""}[ch.Base != nil])
	}
	// put (a new object), DeleteAll (its files go: only Removed is shipped),
	// put (a new object again), Remove.
	if want := "pages+base removed pages+base removed"; strings.Join(got, " ") != want {
		t.Fatalf("changes = %q, want %q", got, want)
	}
}

func TestLog_NothingWrittenShipsNothing(t *testing.T) {
	t.Parallel()
	log := newRecordLog()
	_, db := newTestDB(t, Config{Log: log})
	put(t, db, "a", "1")
	n := len(log.changes[db.ID()])
	event(t, db, true, func(ctx context.Context) {
		if _, err := db.Delete(ctx, "missing"); err != nil {
			t.Fatal(err)
		}
	})
	commit(t, db)
	if got := len(log.changes[db.ID()]); got != n {
		t.Fatalf("a batch that changed nothing shipped: %d changes, want %d", got, n)
	}
}

// restorerFor returns a Restorer of the object id in s, as Store.Open
// makes one.
func restorerFor(s *Store, id ids.ID) *Restorer {
	return &Restorer{s: s, file: Path(testClass, id)}
}

func TestRestorer_RefusesBadChangesAndInstallsNothing(t *testing.T) {
	t.Parallel()
	tmpl, err := newStore(t, Config{Spares: -1}).tmpl()
	if err != nil {
		t.Fatal(err)
	}
	page := make([]byte, 4096)
	for _, tc := range []struct {
		name string
		base []byte
		ch   Changes
	}{
		{"page=0", tmpl.db, Changes{Pages: []Page{{No: 0, Data: page}}, Size: 4}},
		{"page=short", tmpl.db, Changes{Pages: []Page{{No: 1, Data: page[:100]}}, Size: 4}},
		{"size=0", tmpl.db, Changes{Size: 0}},
		{"size=over-limit", tmpl.db, Changes{Size: 1 << 30}},
		{"no-base-no-object", nil, Changes{Pages: []Page{{No: 1, Data: page}}, Size: 1}},
		{"base=not-sqlite", nil, Changes{Base: make([]byte, 4096), Size: 1}},
		{"base=partial-page", nil, Changes{Base: tmpl.db[:5000], Size: 1}},
		{"page1=not-sqlite", tmpl.db, Changes{Pages: []Page{{No: 1, Data: page}}, Size: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, Config{Spares: -1}) // alone: a snapshot sees every file
			id := objID(tc.name)
			db := openDB(t, s, id)
			put(t, db, "keep", "me")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, s.cfg.Dir)
			r := restorerFor(s, id)
			err := r.Start(tc.base)
			if err == nil {
				err = r.Apply(&tc.ch)
			}
			if err == nil {
				err = r.Finish()
			}
			r.discard()
			if err == nil {
				t.Fatal("bad changes restored without an error")
			}
			if d := diffSnapshots(before, snapshot(t, s.cfg.Dir)); d != "" {
				t.Fatalf("a failed restore changed files: %s", d)
			}
			db = openDB(t, s, id)
			wantValue(t, db, "keep", "me")
		})
	}
}

func TestRestorer_RestoresImageAndRemoves(t *testing.T) {
	t.Parallel()
	log := newRecordLog()
	_, db := newTestDB(t, Config{Log: log})
	put(t, db, "a", "1")
	log.snapshot(t, db)
	put(t, db, "b", "2") // after the Image: the WAL started anew
	wantValue(t, db, "a", "1")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	dirB := t.TempDir()
	b := newStore(t, Config{Dir: dirB, Log: &recordLog{from: log, useImages: true, rebuild: map[ids.ID]bool{}}})
	dbB := openDB(t, b, db.ID())
	wantValue(t, dbB, "a", "1")
	wantValue(t, dbB, "b", "2")
	wantIntegrity(t, dbB)
	if err := dbB.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dirB, Path(testClass, db.ID())+"-wal")); err == nil {
		// the replica's own Open ran (no write): a WAL may exist, but an empty one
		if fi, _ := os.Stat(filepath.Join(dirB, Path(testClass, db.ID())+"-wal")); fi.Size() != 0 {
			t.Fatalf("restored object has a WAL of %d bytes", fi.Size())
		}
	}
	r := restorerFor(b, db.ID())
	if err := replay(r, nil, []Changes{{Removed: true}}); err != nil {
		t.Fatal(err)
	}
	r.discard()
	wantExists(t, b, db.ID(), false)
}
