package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/ids"
)

// replObject is one object of the workload on the writing store.
type replObject struct {
	id     ids.ID
	db     *DB
	rng    *rand.Rand
	serial bool
	// salts are the WAL generations its commits were read from.
	salts map[[8]byte]bool
}

// randomValue returns a value of a random size: mostly small, sometimes up
// to 1 MiB, so that the WAL passes the auto-checkpoint and restarts.
func randomValue(rng *rand.Rand) []byte {
	n := 1 + rng.IntN(200)
	switch rng.IntN(8) {
	case 0, 1:
		n = 1 + rng.IntN(16<<10)
	case 2:
		n = 1 + rng.IntN(1<<20)
	}
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], rng.Uint64())
	b := make([]byte, n)
	rand.NewChaCha8(seed).Read(b)
	return b
}

// errRollTx rolls back a transaction of the workload.
var errRollTx = errors.New("roll this transaction back")

// randomWrite makes one random write to the object.
func randomWrite(ctx context.Context, db *DB, rng *rand.Rand) error {
	key := fmt.Sprintf("k%02d", rng.IntN(24))
	switch op := rng.IntN(20); {
	case op < 9:
		return db.Put(ctx, key, randomValue(rng))
	case op < 12:
		_, err := db.DeleteMany(ctx, []string{key, key + "x", fmt.Sprintf("k%02d", rng.IntN(24))})
		return err
	case op < 16:
		return sqlWrite(ctx, db, rng)
	case op < 17:
		return timerWrite(ctx, db, rng)
	case op < 18:
		err := db.Transaction(ctx, func(ctx context.Context) error {
			if err := db.Put(ctx, key, randomValue(rng)); err != nil {
				return err
			}
			return errRollTx
		})
		if errors.Is(err, errRollTx) {
			return nil
		}
		return err
	default:
		return db.DeleteAll(ctx)
	}
}

// timerWrite sets or deletes a timer.
func timerWrite(ctx context.Context, db *DB, rng *rand.Rand) error {
	name := fmt.Sprint("t", rng.IntN(5))
	if rng.IntN(3) == 0 {
		_, err := db.DeleteTimer(ctx, name)
		return err
	}
	due := time.Unix(int64(rng.IntN(1<<30)), 0)
	return db.SetTimer(ctx, Timer{Name: name, Kind: "timer", Due: due, Scheduled: due, Payload: []byte(name)})
}

// sqlWrite writes rows of a table with indexes.
func sqlWrite(ctx context.Context, db *DB, rng *rand.Rand) error {
	_, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, a TEXT, b BLOB, n INTEGER);
		CREATE INDEX IF NOT EXISTS t_a ON t (a); CREATE INDEX IF NOT EXISTS t_n ON t (n, a)`)
	for i := 0; err == nil && i < 1+rng.IntN(20); i++ {
		id, v := rng.IntN(300), randomValue(rng)
		switch rng.IntN(4) {
		case 0:
			_, err = db.Exec(ctx, `DELETE FROM t WHERE id BETWEEN ? AND ?`, id, id+rng.IntN(10))
		case 1:
			_, err = db.Exec(ctx, `UPDATE t SET n = n + 1, a = a || 'u' WHERE id % 7 = ?`, id%7)
		default:
			_, err = db.Exec(ctx, `INSERT OR REPLACE INTO t VALUES (?, ?, ?, ?)`, id, fmt.Sprint(rng.Uint64()), v[:min(len(v), 64<<10)], rng.IntN(50))
		}
	}
	if err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	return nil
}

// batch runs a few events on the object, some rolled back, and commits
// them. A concurrent object also takes writes from goroutines outside
// events, each committed on its own.
func (o *replObject) batch(ctx context.Context) error {
	if !o.serial {
		return o.concurrentWrites(ctx)
	}
	for range 1 + o.rng.IntN(4) {
		if err := o.db.BeginEvent(ctx); err != nil {
			return err
		}
		err := randomWrite(ctx, o.db, o.rng)
		if err := o.db.EndEvent(err == nil && o.rng.IntN(6) != 0); err != nil {
			return err
		}
		if err != nil {
			return err
		}
	}
	if o.rng.IntN(10) == 0 {
		o.db.Rollback() // discarded, like a failed event's instance
		return o.reopen(o.db.s)
	}
	if err := o.db.Commit(); err != nil {
		return err
	}
	o.noteSalts()
	return nil
}

// concurrentWrites writes from three goroutines at once, each write in
// its own transaction, committed on its own; then with a Query outside
// any transaction. (A Query's rows that write keep the write transaction
// until they close: another goroutine's write meanwhile fails.)
func (o *replObject) concurrentWrites(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for g := range errs {
		rng := rand.New(rand.NewPCG(o.rng.Uint64(), uint64(g)))
		wg.Go(func() {
			for i := 0; i < 3 && errs[g] == nil; i++ {
				errs[g] = o.db.Transaction(ctx, func(ctx context.Context) error {
					return randomWrite(ctx, o.db, rng)
				})
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	o.noteSalts()
	return queryWrite(ctx, o.db, o.rng)
}

// queryWrite writes with Query, outside any transaction: the write
// commits when the rows close. Another goroutine's DeleteAll may drop the
// table in between.
func queryWrite(ctx context.Context, db *DB, rng *rand.Rand) error {
	if _, err := db.Exec(ctx, "CREATE TABLE IF NOT EXISTS q (a)"); err != nil {
		return err
	}
	rows, err := db.Query(ctx, "INSERT INTO q VALUES (?) RETURNING length(a)", randomValue(rng))
	if err != nil && strings.Contains(err.Error(), "no such table") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	for rows.Next() {
	}
	return errors.Join(rows.Err(), rows.Close())
}

// noteSalts records the WAL generation of the last commit.
func (o *replObject) noteSalts() {
	o.db.mu.Lock()
	defer o.db.mu.Unlock()
	o.salts[o.db.tail.salt] = true
}

// run runs n batches, reopening the object now and then.
func (o *replObject) run(ctx context.Context, s *Store, n int) error {
	for range n {
		if o.rng.IntN(8) == 0 {
			if err := o.reopen(s); err != nil {
				return err
			}
		}
		if err := o.batch(ctx); err != nil {
			return fmt.Errorf("object %s: %w", o.id, err)
		}
	}
	return nil
}

func (o *replObject) reopen(s *Store) error {
	if err := o.db.Close(); err != nil {
		return err
	}
	db, err := s.Open(testClass, o.id)
	if err != nil {
		return err
	}
	db.SetSerial(o.serial)
	o.db = db
	return nil
}

// openObjects opens n objects of the workload, the last two concurrent.
func openObjects(t *testing.T, s *Store, n int) []*replObject {
	objs := make([]*replObject, n)
	for i := range objs {
		id := objID(fmt.Sprint("repl-", i))
		objs[i] = &replObject{id: id, rng: rand.New(rand.NewPCG(uint64(i), 13)), serial: i < n-2, salts: map[[8]byte]bool{}}
		objs[i].db = openDB(t, s, id)
		objs[i].db.SetSerial(objs[i].serial)
	}
	t.Cleanup(func() {
		for _, o := range objs {
			o.db.Close()
		}
	})
	return objs
}

// runPhase runs n batches on every object at once, and returns what each
// object holds.
func runPhase(t *testing.T, s *Store, objs []*replObject, n int) map[ids.ID]string {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(objs))
	for i, o := range objs {
		wg.Go(func() { errs[i] = o.run(t.Context(), s, n) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	want := map[ids.ID]string{}
	for _, o := range objs {
		d, err := dump(o.db)
		if err != nil {
			t.Fatalf("object %s: %v", o.id, err)
		}
		want[o.id] = d
	}
	return want
}

// TestReplicateWorkload checks that the log holds exactly what each object
// committed: random workloads, restored into another store after each
// phase, give the same contents.
func TestReplicateWorkload(t *testing.T) {
	rec := newRecorder()
	a, b := replStore(t, rec, keepLocal), replStore(t, rec, replayAll)
	objs := openObjects(t, a, 8)
	var want map[ids.ID]string
	for phase := range 3 {
		want = runPhase(t, a, objs, 16)
		wantRestored(t, b, want)
		if phase == 0 {
			for _, o := range objs {
				if o.db.conn != nil {
					rec.snapshot(t, testClass, o.db)
				}
			}
		}
	}
	t.Run("from an image", func(t *testing.T) {
		wantRestored(t, replStore(t, rec, fromImage), want)
	})
	restarts, records := 0, 0
	for _, o := range objs {
		restarts += len(o.salts) - 1
		records += rec.count(testClass, o.id)
	}
	t.Logf("WAL restarts: %d, restores: %d, records: %d", restarts, rec.restores, records)
	if restarts < 10 {
		t.Errorf("the WAL restarted %d times, want ≥ 10: the workload is too small", restarts)
	}
}
