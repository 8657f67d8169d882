package store

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roost-dev/roost/internal/ids"
)

// funcLog is a log whose Restore runs restore, and that takes every Append.
type funcLog struct{ restore func(r *Restorer) error }

func (l *funcLog) Restore(class string, id ids.ID, r *Restorer) error { return l.restore(r) }
func (l *funcLog) Append(class string, id ids.ID, ch *Changes) error  { return nil }

// objectFile returns the bytes of the object's database file (nil if none)
// and fails the test if a restore left its temporary file.
func objectFile(t testing.TB, s *Store, id ids.ID) []byte {
	t.Helper()
	file := filepath.Join(s.abs, filepath.FromSlash(Path(testClass, id)))
	if _, err := os.Stat(file + restoreSuffix); !os.IsNotExist(err) {
		t.Fatalf("a restore left %s behind (%v)", file+restoreSuffix, err)
	}
	b, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return b
}

// page returns a page of size bytes filled with b.
func page(size int, b byte) []byte { return bytes.Repeat([]byte{b}, size) }

// TestRestorerRejects checks that changes that cannot apply fail the
// restore, and leave the object's file as it was, even when the log goes
// on to Finish.
func TestRestorerRejects(t *testing.T) {
	base := func(s *Store) []byte { tm, _ := s.tmpl(); return tm.db }
	notSQLite := bytes.Repeat([]byte("not a database "), 1024)
	for _, tc := range []struct {
		name string
		run  func(r *Restorer, base []byte) error
	}{
		{"apply before start", func(r *Restorer, b []byte) error { return r.Apply(&Changes{Size: 1}) }},
		{"nil changes", func(r *Restorer, b []byte) error { r.Start(b); return r.Apply(nil) }},
		{"base not SQLite", func(r *Restorer, b []byte) error { return r.Start(notSQLite) }},
		{"short base", func(r *Restorer, b []byte) error { return r.Start(b[:len(b)-1]) }},
		{"header only", func(r *Restorer, b []byte) error { return r.Start(b[:100]) }},
		{"bad header page size", func(r *Restorer, b []byte) error {
			b = bytes.Clone(b)
			b[16], b[17] = 0x03, 0xe8 // 1000
			return r.Start(b)
		}},
		{"base in changes not SQLite", func(r *Restorer, b []byte) error {
			r.Start(nil)
			return r.Apply(&Changes{Base: notSQLite, Size: 1})
		}},
		{"pages without base", func(r *Restorer, b []byte) error {
			r.Start(nil)
			return r.Apply(&Changes{Pages: []Page{{No: 1, Data: b[:4096]}}, Size: 1})
		}},
		{"pages after removal", func(r *Restorer, b []byte) error {
			r.Start(b)
			r.Apply(&Changes{Removed: true})
			return r.Apply(&Changes{Pages: []Page{{No: 1, Data: b[:4096]}}, Size: 1})
		}},
		{"page 0", applyOne(Page{No: 0, Data: page(4096, 1)}, 2)},
		{"page beyond size", applyOne(Page{No: 3, Data: page(4096, 1)}, 2)},
		{"small page", applyOne(Page{No: 1, Data: page(512, 1)}, 2)},
		{"large page", applyOne(Page{No: 1, Data: page(8192, 1)}, 2)},
		{"empty page", applyOne(Page{No: 1}, 2)},
		{"size 0", applyOne(Page{No: 1, Data: page(4096, 1)}, 0)},
		{"size too large", applyOne(Page{No: 1, Data: page(4096, 1)}, 1<<31)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantRejected(t, tc.run, base)
		})
	}
}

// applyOne returns a restore that applies one page onto the base.
func applyOne(p Page, size uint32) func(r *Restorer, b []byte) error {
	return func(r *Restorer, b []byte) error {
		if err := r.Start(b); err != nil {
			return err
		}
		return r.Apply(&Changes{Pages: []Page{p}, Size: size})
	}
}

// wantRejected runs a restore that must fail, once returning the error
// (Open fails) and once going on to Finish anyway (Finish fails): the
// object's file must stay as it was.
func wantRejected(t *testing.T, run func(r *Restorer, b []byte) error, base func(*Store) []byte) {
	log := &funcLog{restore: func(r *Restorer) error { return nil }}
	s := newStore(t, Config{Synchronous: SyncNormal, Log: log})
	id := objID("rejects")
	db := openDB(t, s, id)
	put(t, db, "k", "v")
	db.Close()
	s.Close()
	s = newStore(t, Config{Dir: s.cfg.Dir, Synchronous: SyncNormal, Log: log})
	before := objectFile(t, s, id)
	for _, finish := range []bool{false, true} {
		var runErr error
		log.restore = func(r *Restorer) error {
			if runErr = run(r, base(s)); runErr == nil || !finish {
				return runErr
			}
			return r.Finish()
		}
		db, err := s.Open(testClass, id)
		if err == nil {
			db.Close()
			t.Fatalf("Open after a rejected restore (finish %t, restore error %v) succeeded", finish, runErr)
		}
		if runErr == nil || !strings.Contains(err.Error(), "restore") {
			t.Fatalf("restore error %v, Open error %v: want both", runErr, err)
		}
		if got := objectFile(t, s, id); !bytes.Equal(got, before) {
			t.Fatalf("a rejected restore (finish %t) changed the object's file", finish)
		}
	}
}
