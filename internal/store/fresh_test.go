package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Reading an object that was never written, through SQL (which needs a
// database file), leaves no file behind: in an event, outside one, and in a
// replicated store, where the log hears nothing. The first write creates
// the object.
func TestFresh_ReadsCreateNoStorage(t *testing.T) {
	t.Parallel()
	for _, sync := range []Sync{SyncNormal, SyncFull} {
		t.Run(string(sync), func(t *testing.T) {
			rec := newRecorder()
			s := newStore(t, Config{Synchronous: sync, Log: recLog{rec: rec, mode: keepLocal}})
			db := openDB(t, s, objID("read-only"))
			event(t, db, true, func(ctx context.Context) {
				rows, err := db.Query(ctx, `SELECT count(*) FROM sqlite_schema`)
				if err != nil {
					t.Fatal(err)
				}
				rows.Close()
			})
			commit(t, db)
			wantExists(t, s, db.ID(), false)
			wantNoFiles(t, s)
			if n := rec.count(testClass, db.ID()); n != 0 {
				t.Fatalf("the log holds %d records of an object never written", n)
			}

			rows, err := db.Query(t.Context(), `SELECT 1`) // outside an event
			if err != nil {
				t.Fatal(err)
			}
			rows.Close()
			db.Close()
			wantExists(t, s, db.ID(), false)
			wantNoFiles(t, s)

			db = openDB(t, s, objID("read-only"))
			put(t, db, "k", "v")
			wantExists(t, s, db.ID(), true)
			event(t, db, true, func(ctx context.Context) { // a read of a written object keeps it
				if _, err := db.Query(ctx, `SELECT 1`); err != nil {
					t.Fatal(err)
				}
			})
			commit(t, db)
			wantValue(t, db, "k", "v")
		})
	}
}

// wantNoFiles fails unless the store's objects directory holds no file.
func wantNoFiles(t *testing.T, s *Store) {
	t.Helper()
	err := filepath.Walk(filepath.Join(s.cfg.Dir, objectsDir), func(path string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			t.Errorf("file left: %s", path)
		}
		if os.IsNotExist(err) {
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A new object's file is two pages (the header and schema, the KV table):
// the timers table comes with its first timer, and a rolled-back event
// that created it leaves none behind that Roost would believe in.
func TestTemplate_TimersTableComesWithTheFirstTimer(t *testing.T) {
	t.Parallel()
	s := newStore(t, Config{})
	db := openDB(t, s, objID("small"))
	put(t, db, "k", "v")
	if n := len(s.mustTemplate(t)); n != 2*4096 {
		t.Fatalf("the template is %d bytes, want two pages", n)
	}
	timer := Timer{Name: "a", Kind: "alarm", Due: time.UnixMilli(5), Scheduled: time.UnixMilli(5)}
	event(t, db, false, func(ctx context.Context) { // rolled back
		if err := db.SetTimer(ctx, timer); err != nil {
			t.Fatal(err)
		}
	})
	if ts, err := db.Timers(t.Context()); err != nil || len(ts) != 0 {
		t.Fatalf("after a rolled-back timer: %v, %v", ts, err)
	}
	event(t, db, true, func(ctx context.Context) {
		if err := db.SetTimer(ctx, timer); err != nil {
			t.Fatal(err)
		}
	})
	commit(t, db)
	if ts, err := db.Timers(t.Context()); err != nil || len(ts) != 1 {
		t.Fatalf("after a committed timer: %v, %v", ts, err)
	}
}

func (s *Store) mustTemplate(t *testing.T) []byte {
	t.Helper()
	tmpl, err := s.tmpl()
	if err != nil {
		t.Fatal(err)
	}
	return tmpl.db
}
