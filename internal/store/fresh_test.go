package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
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
