package store

import (
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	mattn "github.com/mattn/go-sqlite3"

	"github.com/roost-dev/roost/internal/ids"
)

// BenchmarkStore_Put measures a durable single write: one event with one
// Put, then its commit.
func BenchmarkStore_Put(b *testing.B) {
	for _, mode := range []Sync{SyncFull, SyncNormal} {
		b.Run("sync="+string(mode), func(b *testing.B) {
			_, db := newTestDB(b, Config{Synchronous: mode})
			ctx := b.Context()
			val := make([]byte, 128)
			b.SetBytes(int64(len(val)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := db.BeginEvent(ctx); err != nil {
					b.Fatal(err)
				}
				if err := db.Put(ctx, fmt.Sprintf("k%08d", i), val); err != nil {
					b.Fatal(err)
				}
				if err := db.EndEvent(true); err != nil {
					b.Fatal(err)
				}
				if err := db.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStore_Get(b *testing.B) {
	_, db := newTestDB(b, Config{})
	ctx := b.Context()
	const n = 1000
	entries := make([]Entry, n)
	for i := range entries {
		entries[i] = Entry{fmt.Sprintf("k%08d", i), make([]byte, 128)}
	}
	if err := db.PutMany(ctx, entries); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(128)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, ok, err := db.Get(ctx, entries[i%n].Key); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkStore_SQLInsert measures a durable single SQL write: one event
// with one INSERT, then its commit.
func BenchmarkStore_SQLInsert(b *testing.B) {
	_, db := newTestDB(b, Config{})
	ctx := b.Context()
	if _, err := db.Exec(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := db.BeginEvent(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Exec(ctx, "INSERT INTO t (name, n) VALUES (?, ?)", "name", i); err != nil {
			b.Fatal(err)
		}
		if err := db.EndEvent(true); err != nil {
			b.Fatal(err)
		}
		if err := db.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStore_SQLSelect(b *testing.B) {
	_, db := newTestDB(b, Config{})
	ctx := b.Context()
	const n = 1000
	if _, err := db.Exec(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER);
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000)
		INSERT INTO t SELECT i, 'name ' || i, i * 2 FROM c`); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rows, err := db.Query(ctx, "SELECT name, n FROM t WHERE id = ?", i%n+1)
		if err != nil {
			b.Fatal(err)
		}
		var name string
		var v int64
		if !rows.Next() {
			b.Fatal("no row", rows.Err())
		}
		if err := rows.Scan(&name, &v); err != nil {
			b.Fatal(err)
		}
		if err := rows.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStore_CreateObject measures an object's first write: open, create
// its file, commit one Put, close.
func BenchmarkStore_CreateObject(b *testing.B) {
	s := newStore(b, Config{})
	ctx := b.Context()
	val := make([]byte, 128)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		db, err := s.Open(testClass, ids.FromName(testClass, fmt.Sprint(i)))
		if err != nil {
			b.Fatal(err)
		}
		if err := db.BeginEvent(ctx); err != nil {
			b.Fatal(err)
		}
		if err := db.Put(ctx, "k", val); err != nil {
			b.Fatal(err)
		}
		if err := db.EndEvent(true); err != nil {
			b.Fatal(err)
		}
		if err := db.Commit(); err != nil {
			b.Fatal(err)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSQLite_BareCommit is the baseline of a durable single write: a
// bare SQLite connection on a plain file, WAL, synchronous=FULL, running
// BEGIN; INSERT; COMMIT, on the same driver as the store.
func BenchmarkSQLite_BareCommit(b *testing.B) {
	const schema = `PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
		CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID`
	const insert = "INSERT INTO kv (key, value) VALUES (?, ?)"
	val := make([]byte, 128)
	b.Run("driver=mattn", func(b *testing.B) {
		c, err := (&mattn.SQLiteDriver{}).Open(filepath.Join(b.TempDir(), "bare.db"))
		if err != nil {
			b.Fatal(err)
		}
		conn := c.(*mattn.SQLiteConn)
		b.Cleanup(func() { conn.Close() })
		if _, err := conn.Exec(schema, nil); err != nil {
			b.Fatal(err)
		}
		prepared, err := conn.Prepare(insert)
		if err != nil {
			b.Fatal(err)
		}
		st := prepared.(*mattn.SQLiteStmt)
		b.Cleanup(func() { st.Close() })
		b.SetBytes(int64(len(val)))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := conn.Exec("BEGIN", nil); err != nil {
				b.Fatal(err)
			}
			if _, err := st.Exec([]driver.Value{fmt.Sprintf("k%08d", i), val}); err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Exec("COMMIT", nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSQLite_SharedJournal measures a storage layout Roost does not
// use, for comparison with one database per workflow instance: the journals
// of many instances in one WAL file, written by one goroutine that commits
// whatever is pending in one transaction (group commit). Each operation is
// a three-step instance: four durable writes in turn (the create, then a
// step each, the end with the last), from 64 callers.
func BenchmarkSQLite_SharedJournal(b *testing.B) {
	type write struct {
		inst, seq int64
		done      chan error
	}
	for _, mode := range []string{"FULL", "NORMAL"} {
		b.Run("synchronous="+mode, func(b *testing.B) {
			c, err := (&mattn.SQLiteDriver{}).Open(filepath.Join(b.TempDir(), "journal.db"))
			if err != nil {
				b.Fatal(err)
			}
			conn := c.(*mattn.SQLiteConn)
			b.Cleanup(func() { conn.Close() })
			if _, err := conn.Exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=`+mode+`;
				CREATE TABLE journal (inst INTEGER, seq INTEGER, data BLOB NOT NULL, PRIMARY KEY (inst, seq)) WITHOUT ROWID`, nil); err != nil {
				b.Fatal(err)
			}
			prepared, err := conn.Prepare(`INSERT INTO journal (inst, seq, data) VALUES (?, ?, ?)`)
			if err != nil {
				b.Fatal(err)
			}
			st := prepared.(*mattn.SQLiteStmt)
			b.Cleanup(func() { st.Close() })
			data := []byte(`{"name":"one","state":"done","attempts":1,"result":42}`)
			writes := make(chan write, 1024)
			writerDone := make(chan struct{})
			go func() { // the one writer: a transaction per batch of pending writes
				defer close(writerDone)
				for w := range writes {
					batch := []write{w}
					for more := true; more && len(batch) < 512; {
						select {
						case w, ok := <-writes:
							if ok {
								batch = append(batch, w)
							} else {
								more = false
							}
						default:
							more = false
						}
					}
					_, err := conn.Exec("BEGIN", nil)
					for _, w := range batch {
						if err == nil {
							_, err = st.Exec([]driver.Value{w.inst, w.seq, data})
						}
					}
					if err == nil {
						_, err = conn.Exec("COMMIT", nil)
					}
					for _, w := range batch {
						w.done <- err
					}
				}
			}()
			var next atomic.Int64
			b.SetParallelism(32) // 64 callers on 2 CPUs
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				done := make(chan error, 1)
				for pb.Next() {
					inst := next.Add(1)
					for seq := range int64(4) {
						writes <- write{inst, seq, done}
						if err := <-done; err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "instances/s")
			close(writes)
			<-writerDone
		})
	}
}
