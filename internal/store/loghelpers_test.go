package store

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/roost-dev/roost/internal/ids"
)

// recordLog is a Log of our own interface that keeps every object's
// Changes in memory, as a replicated log would. Restore keeps the local file
// unless the object must be rebuilt (after a failed Append, or always for a
// replica, whose changes come from another recordLog).
type recordLog struct {
	mu      sync.Mutex
	changes map[ids.ID][]Changes
	// images are snapshots: an object's Image and how many of its Changes
	// it holds. A replica with useImages starts from them.
	images    map[ids.ID]snapshotAt
	useImages bool
	// from, if set, makes this log a replica's: every Restore rebuilds
	// from from's records.
	from *recordLog
	// rebuild marks objects whose next Restore must rebuild the file.
	rebuild map[ids.ID]bool
	// failAppend, if set, fails every Append with it.
	failAppend error
	// failRestore, if set, fails every Restore with it.
	failRestore error
	restores    int
}

type snapshotAt struct {
	image []byte
	after int
}

func newRecordLog() *recordLog {
	return &recordLog{changes: map[ids.ID][]Changes{}, images: map[ids.ID]snapshotAt{}, rebuild: map[ids.ID]bool{}}
}

func (l *recordLog) Append(class string, id ids.ID, ch *Changes) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failAppend != nil {
		l.rebuild[id] = true // the local file may now be ahead of the log
		return l.failAppend
	}
	l.changes[id] = append(l.changes[id], cloneChanges(ch))
	return nil
}

func (l *recordLog) Restore(class string, id ids.ID, r *Restorer) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.restores++
	if l.failRestore != nil {
		return l.failRestore
	}
	src := l
	if l.from != nil {
		src = l.from
		src.mu.Lock()
		defer src.mu.Unlock()
	} else if !l.rebuild[id] {
		return nil
	}
	delete(l.rebuild, id)
	chs := src.changes[id]
	var base []byte
	if snap, ok := src.images[id]; ok && l.useImages {
		base, chs = snap.image, chs[snap.after:]
	}
	return replay(r, base, chs)
}

// snapshot records db's Image as a snapshot of its log.
func (l *recordLog) snapshot(t testing.TB, db *DB) {
	t.Helper()
	var b strings.Builder
	if err := db.Image(&b); err != nil {
		t.Fatalf("Image: %v", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.images[db.ID()] = snapshotAt{image: []byte(b.String()), after: len(l.changes[db.ID()])}
}

// replay rebuilds an object's file from base and chs.
func replay(r *Restorer, base []byte, chs []Changes) error {
	if err := r.Start(base); err != nil {
		return err
	}
	for i := range chs {
		if err := r.Apply(&chs[i]); err != nil {
			return err
		}
	}
	return r.Finish()
}

// cloneChanges copies ch: the store reuses its buffers after Append.
func cloneChanges(ch *Changes) Changes {
	c := Changes{Base: slices.Clone(ch.Base), Size: ch.Size, Removed: ch.Removed}
	for _, p := range ch.Pages {
		c.Pages = append(c.Pages, Page{No: p.No, Data: slices.Clone(p.Data)})
	}
	return c
}

// dumpObject returns every row of every table in an object's database
// (closed: its files are copied, with the WAL, and the copy checkpointed),
// Roost's own tables included, and the checkpointed file's bytes; it checks
// the copy's integrity. It returns "", nil if the object has no file.
func dumpObject(t testing.TB, dir string, id ids.ID) (string, []byte) {
	t.Helper()
	file := filepath.Join(copyObject(t, dir, id), Path(testClass, id))
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	conn, err := openPlain(file, false)
	if err != nil {
		t.Fatalf("open %s: %v", file, err)
	}
	defer conn.Close()
	if got, err := selectText(conn, "PRAGMA integrity_check"); err != nil || got != "ok" {
		t.Fatalf("integrity_check of %s = %q, %v", file, got, err)
	}
	if _, err := conn.Exec("PRAGMA wal_checkpoint(TRUNCATE)", nil); err != nil {
		t.Fatal(err)
	}
	tables, err := selectTexts(conn, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	schema, err := selectTexts(conn, "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintln(&b, strings.Join(schema, "\n"))
	for _, name := range tables {
		fmt.Fprintf(&b, "table %s\n%s", name, dumpTable(t, conn, name))
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), raw
}

// dumpTable returns a table's rows, sorted.
func dumpTable(t testing.TB, conn interface {
	Query(string, []driver.Value) (driver.Rows, error)
}, name string) string {
	t.Helper()
	rows, err := conn.Query(`SELECT * FROM "`+name+`"`, nil)
	if err != nil {
		t.Fatalf("dump %s: %v", name, err)
	}
	defer rows.Close()
	var lines []string
	v := make([]driver.Value, len(rows.Columns()))
	for {
		if err := rows.Next(v); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("dump %s: %v", name, err)
		}
		var line strings.Builder
		for _, x := range v {
			if b, ok := x.([]byte); ok {
				x = string(b)
			}
			fmt.Fprintf(&line, "%#v|", x)
		}
		lines = append(lines, line.String())
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}
