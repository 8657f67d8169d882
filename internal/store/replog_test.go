package store

import (
	"bytes"
	"crypto/sha256"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/roost-dev/roost/internal/ids"
)

// recorder is a faithful in-memory replicated log: it keeps every Changes
// appended for each object, and replays them into a Restorer.
type recorder struct {
	mu   sync.Mutex
	recs map[string][]*Changes
	// stale objects had an Append fail: their local file is not trusted.
	stale map[string]bool
	// fail makes the next Append of an object fail.
	fail map[string]bool
	// images are snapshots (DB.Image) and how many records they cover.
	images map[string]image
	// restores counts the restores that rebuilt a file.
	restores int
}

// image is a snapshot of an object and the number of records it covers.
type image struct {
	data []byte
	n    int
}

// errAppend is the error of an Append that fails on demand.
var errAppend = errors.New("recorder: append failed on demand")

func newRecorder() *recorder {
	return &recorder{recs: map[string][]*Changes{}, stale: map[string]bool{},
		fail: map[string]bool{}, images: map[string]image{}}
}

func recKey(class string, id ids.ID) string { return class + "/" + id.String() }

// restoreMode says how a store's view of the recorder restores objects.
type restoreMode int

const (
	// keepLocal leaves the local file unless an Append failed (the owner
	// that wrote it, like objlog on the node that holds the lease).
	keepLocal restoreMode = iota
	// replayAll rebuilds from the first record (a node taking over).
	replayAll
	// fromImage rebuilds from the object's image and the records after it.
	fromImage
)

// recLog is one store's view of a recorder.
type recLog struct {
	rec  *recorder
	mode restoreMode
}

func (l recLog) Restore(class string, id ids.ID, r *Restorer) error {
	k := recKey(class, id)
	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	if l.mode == keepLocal && !l.rec.stale[k] {
		return nil
	}
	delete(l.rec.stale, k)
	l.rec.restores++
	var base []byte
	recs := l.rec.recs[k]
	if img, ok := l.rec.images[k]; ok && l.mode == fromImage {
		base, recs = img.data, recs[img.n:]
	}
	if err := r.Start(base); err != nil {
		return err
	}
	for i, ch := range recs {
		if err := r.Apply(ch); err != nil {
			return fmt.Errorf("apply record %d: %w", i, err)
		}
	}
	return r.Finish()
}

func (l recLog) Append(class string, id ids.ID, ch *Changes) error {
	k := recKey(class, id)
	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	if l.rec.fail[k] {
		delete(l.rec.fail, k)
		l.rec.stale[k] = true
		return errAppend
	}
	// The store reuses ch's buffers after Append returns: keep a copy.
	c := &Changes{Base: bytes.Clone(ch.Base), Size: ch.Size, Removed: ch.Removed}
	for _, p := range ch.Pages {
		c.Pages = append(c.Pages, Page{No: p.No, Data: bytes.Clone(p.Data)})
	}
	l.rec.recs[k] = append(l.rec.recs[k], c)
	return nil
}

// count returns how many records the object has.
func (r *recorder) count(class string, id ids.ID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.recs[recKey(class, id)])
}

// failNext makes the object's next Append fail.
func (r *recorder) failNext(class string, id ids.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail[recKey(class, id)] = true
}

// snapshot takes the image of an open object.
func (r *recorder) snapshot(t testing.TB, class string, db *DB) {
	t.Helper()
	var b strings.Builder
	if err := db.Image(&b); err != nil {
		t.Fatalf("Image: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := recKey(class, db.ID())
	r.images[k] = image{data: []byte(b.String()), n: len(r.recs[k])}
}

// replStore opens a store whose log is rec, restoring with mode.
func replStore(t testing.TB, rec *recorder, mode restoreMode) *Store {
	t.Helper()
	return replStoreSync(t, rec, mode, SyncNormal)
}

// replStoreSync is replStore with the durability mode sync.
func replStoreSync(t testing.TB, rec *recorder, mode restoreMode, sync Sync) *Store {
	t.Helper()
	return newStore(t, Config{Synchronous: sync, Log: recLog{rec: rec, mode: mode}})
}

// dump returns the object's whole logical content (its schema and every
// table's rows, sorted) and its integrity check, "" if it has no file.
func dump(db *DB) (string, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.conn == nil {
		return "", nil
	}
	check, err := queryLines(db.conn, "PRAGMA integrity_check", "check")
	if err != nil || !slices.Equal(check, []string{`check "ok"`}) {
		return "", fmt.Errorf("integrity_check = %q, %v", check, err)
	}
	out, err := queryLines(db.conn, "SELECT type, name, tbl_name, sql FROM sqlite_schema", "schema")
	if err != nil {
		return "", err
	}
	tables, err := queryLines(db.conn, "SELECT name FROM sqlite_schema WHERE type = 'table'", "")
	for _, line := range tables {
		name, _ := strconv.Unquote(strings.TrimSpace(line))
		rows, rerr := queryLines(db.conn, "SELECT * FROM "+quoteIdent(name), name)
		out, err = append(out, rows...), errors.Join(err, rerr)
	}
	return strings.Join(out, "\n"), err
}

// queryLines runs a query and returns one line per row, prefixed, sorted.
// A blob is written as its length and hash.
func queryLines(conn interface {
	Query(string, []driver.Value) (driver.Rows, error)
}, query, prefix string) ([]string, error) {
	rows, err := conn.Query(query, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", query, err)
	}
	defer rows.Close()
	v := make([]driver.Value, len(rows.Columns()))
	var out []string
	for {
		if err := rows.Next(v); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", query, err)
		}
		line := prefix
		for _, x := range v {
			if b, ok := x.([]byte); ok {
				x = fmt.Sprintf("blob(%d,%x)", len(b), sha256.Sum256(b))
			}
			line += fmt.Sprintf(" %q", fmt.Sprint(x))
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return out, nil
}

// wantRestored restores each object of ids into s (from the log) and fails
// the test unless its content is want's.
func wantRestored(t testing.TB, s *Store, want map[ids.ID]string) {
	t.Helper()
	for id, w := range want {
		db, err := s.Open(testClass, id)
		if err != nil {
			t.Fatalf("restore %s: Open: %v", id, err)
		}
		got, err := dump(db)
		db.Close()
		if err != nil {
			t.Fatalf("restore %s: %v", id, err)
		}
		if got != w {
			t.Fatalf("restored %s differs:\n%s", id, firstDiff(got, w))
		}
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d (of %d, want %d):\n got  %.300s\n want %.300s", i, len(g), len(w), a, b)
		}
	}
	return "same lines"
}
