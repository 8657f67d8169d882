package store

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/ids"
)

// workload runs random batches on a store with a recordLog.
type workload struct {
	t   *testing.T
	s   *Store
	log *recordLog
	rng *rand.Rand
	ids []ids.ID
	dbs map[ids.ID]*DB
}

func newWorkload(t *testing.T, s *Store, log *recordLog, objects int) *workload {
	seed := uint64(time.Now().UnixNano())
	t.Logf("workload seed %d", seed)
	w := &workload{t: t, s: s, log: log, rng: rand.New(rand.NewPCG(seed, 1)), dbs: map[ids.ID]*DB{}}
	for i := range objects {
		id := objID(fmt.Sprint("obj-", i))
		w.ids = append(w.ids, id)
		w.dbs[id] = w.open(id)
	}
	return w
}

func (w *workload) open(id ids.ID) *DB {
	db, err := w.s.Open(testClass, id)
	if err != nil {
		w.t.Fatalf("Open: %v", err)
	}
	db.SetSerial(true)
	return db
}

// step runs one random thing on a random object.
func (w *workload) step() {
	id := w.ids[w.rng.IntN(len(w.ids))]
	db := w.dbs[id]
	switch n := w.rng.IntN(100); {
	case n < 4:
		db.Close()
		w.dbs[id] = w.open(id)
	case n < 7:
		if db.Exists() {
			w.log.snapshot(w.t, db)
		}
	case n < 9:
		w.admin(db)
	default:
		for range 1 + w.rng.IntN(3) {
			event(w.t, db, w.rng.IntN(10) > 0, func(ctx context.Context) { w.ops(ctx, db) })
		}
		commit(w.t, db)
	}
}

// admin writes with admin SQL.
func (w *workload) admin(db *DB) {
	_, err := db.AdminQuery(w.t.Context(), `CREATE TABLE IF NOT EXISTS adm (x); INSERT INTO adm VALUES (?)`,
		[]any{w.rng.Int64()}, true, 10)
	if err != nil {
		w.t.Fatalf("AdminQuery: %v", err)
	}
}

// ops runs a few random writes in an event.
func (w *workload) ops(ctx context.Context, db *DB) {
	for range 1 + w.rng.IntN(4) {
		if err := w.op(ctx, db); err != nil {
			w.t.Fatalf("op: %v", err)
		}
	}
}

func (w *workload) op(ctx context.Context, db *DB) error {
	key := fmt.Sprint("k", w.rng.IntN(40))
	switch n := w.rng.IntN(100); {
	case n < 30:
		return db.Put(ctx, key, w.value(1+w.rng.IntN(200)))
	case n < 36:
		return db.Put(ctx, key, w.value(64<<10+w.rng.IntN(256<<10)))
	case n < 50:
		_, err := db.Delete(ctx, key)
		return err
	case n < 75:
		_, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB, n INT)`)
		if err == nil {
			_, err = db.Exec(ctx, `INSERT INTO t (v, n) VALUES (?, ?)`, w.value(w.rng.IntN(3000)), w.rng.IntN(9))
		}
		return err
	case n < 85:
		_, err := db.Exec(ctx, `UPDATE t SET v = ? WHERE n = ?`, w.value(w.rng.IntN(500)), w.rng.IntN(9))
		return ignoreNoTable(err)
	case n < 92:
		_, err := db.Exec(ctx, `DELETE FROM t WHERE n = ?`, w.rng.IntN(9))
		return ignoreNoTable(err)
	case n < 96:
		return db.SetTimer(ctx, Timer{Name: key, Kind: "timer", Due: time.Unix(int64(w.rng.IntN(1e6)), 0)})
	default:
		return db.DeleteAll(ctx)
	}
}

func ignoreNoTable(err error) error {
	if err != nil && bytes.Contains([]byte(err.Error()), []byte("no such table")) {
		return nil
	}
	return err
}

// value returns n random bytes (incompressible, so that big values fill
// the WAL).
func (w *workload) value(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(w.rng.Uint32())
	}
	return b
}

// concurrent writes to one object from several goroutines outside events,
// as a class with concurrent events does: each write commits on its own.
func (w *workload) concurrent(id ids.ID) {
	db := w.dbs[id]
	db.SetSerial(false)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if err := db.Put(w.t.Context(), fmt.Sprint("c", g, "-", i), []byte(fmt.Sprint(i))); err != nil {
					w.t.Errorf("concurrent Put: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// big fills one object's WAL past the autocheckpoint (1000 pages) a few
// times, so that SQLite restarts the WAL between commits.
func (w *workload) big(id ids.ID) {
	db := w.dbs[id]
	for i := range 24 {
		put(w.t, db, fmt.Sprint("big", i%5), string(w.value(900<<10)))
	}
}

// importInto replaces one object's data with an export of another's.
func (w *workload) importInto(from, to ids.ID) {
	put(w.t, w.dbs[from], "exported", "yes") // the source has storage
	src := filepath.Join(w.t.TempDir(), "export.db")
	if err := w.dbs[from].Export(w.t.Context(), src); err != nil {
		w.t.Fatalf("Export: %v", err)
	}
	if err := w.dbs[to].Import(w.t.Context(), src, true); err != nil {
		w.t.Fatalf("Import: %v", err)
	}
}

func (w *workload) closeAll() {
	for _, db := range w.dbs {
		if err := db.Close(); err != nil {
			w.t.Fatalf("Close: %v", err)
		}
	}
}

// restoreInto opens every object in a new store whose Log rebuilds from
// log's records, and returns the store's directory.
func (w *workload) restoreInto(useImages bool) string {
	dir := w.t.TempDir()
	s := newStore(w.t, Config{Dir: dir, Log: &recordLog{from: w.log, useImages: useImages, rebuild: map[ids.ID]bool{}}})
	for _, id := range w.ids {
		db, err := s.Open(testClass, id)
		if err != nil {
			w.t.Fatalf("replica Open %s: %v", id, err)
		}
		if err := db.Close(); err != nil {
			w.t.Fatal(err)
		}
	}
	return dir
}

func TestLog_ReplicaRestoredFromChangesHoldsTheSameData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		spares int
	}{{"from=spares", 0}, {"from=template", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := newRecordLog()
			dirA := t.TempDir()
			a := newStore(t, Config{Dir: dirA, Log: log, Spares: tc.spares})
			w := newWorkload(t, a, log, 8)
			for i := range 400 {
				w.step()
				switch i {
				case 100:
					w.concurrent(w.ids[1])
				case 200:
					w.big(w.ids[2])
				case 300:
					w.importInto(w.ids[2], w.ids[3])
				}
			}
			if w.dbs[w.ids[4]].Exists() {
				if err := w.dbs[w.ids[4]].Remove(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			w.closeAll()
			dirB, dirC := w.restoreInto(false), w.restoreInto(true)
			for _, id := range w.ids {
				wantSameObject(t, "its changes", id, dirA, dirB)
				wantSameObject(t, "an image and later changes", id, dirA, dirC)
			}
		})
	}
}

// wantSameObject fails unless an object's data, and its checkpointed
// database file byte for byte, are the same in both directories.
func wantSameObject(t *testing.T, how string, id ids.ID, dirA, dirB string) {
	t.Helper()
	want, wantRaw := dumpObject(t, dirA, id)
	got, gotRaw := dumpObject(t, dirB, id)
	if got != want {
		t.Errorf("object %s restored from %s differs:\n got %.300s\nwant %.300s", id, how, got, want)
	} else if !bytes.Equal(gotRaw, wantRaw) {
		t.Errorf("object %s restored from %s: same data, files differ: %d and %d bytes", id, how, len(gotRaw), len(wantRaw))
	}
}
