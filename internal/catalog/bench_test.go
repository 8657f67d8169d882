package catalog

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// benchRows is the size of the catalog that the List benchmarks read.
const benchRows = 100_000

// benchCatalog is a catalog file of benchRows entries, built once per test
// binary in its own temp dir (removed by TestMain's cleanup) and copied by
// each benchmark that reads it.
var benchCatalog struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// removeBenchCache removes the built catalog, if any.
func removeBenchCache() {
	if benchCatalog.dir != "" {
		os.RemoveAll(benchCatalog.dir)
	}
}

// buildBenchCatalog writes benchRows entries over 10 classes (c0 … c9) with
// random sizes and times, in transactions of 10,000.
func buildBenchCatalog() (string, error) {
	dir, err := os.MkdirTemp("", "catalog-bench-")
	if err != nil {
		return "", err
	}
	benchCatalog.dir = dir
	path := filepath.Join(dir, "catalog.db")
	c, err := Open(Config{Path: path, Synchronous: SyncNormal, FlushInterval: time.Hour})
	if err != nil {
		return "", err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range benchRows {
		u := Update{Key: key(fmt.Sprintf("c%d", i%10), i), Name: fmt.Sprintf("object-%d", i),
			Created:    t0.Add(-time.Duration(rng.IntN(30*24*3600)) * time.Second),
			LastActive: t0.Add(-time.Duration(rng.IntN(24*3600*1000)) * time.Millisecond),
			Size:       int64(4096 * (1 + rng.IntN(1000))), SetSize: true}
		c.Update(u)
		if (i+1)%10_000 == 0 {
			if err := c.Flush(context0()); err != nil {
				c.Close()
				return "", err
			}
		}
	}
	return path, c.Close()
}

// openBenchCatalog opens a copy of the built catalog.
func openBenchCatalog(b *testing.B) *Catalog {
	b.Helper()
	benchCatalog.once.Do(func() { benchCatalog.path, benchCatalog.err = buildBenchCatalog() })
	if benchCatalog.err != nil {
		b.Fatalf("build catalog: %v", benchCatalog.err)
	}
	path := filepath.Join(b.TempDir(), "catalog.db")
	if err := copyFile(benchCatalog.path, path); err != nil {
		b.Fatal(err)
	}
	return openTest(b, Config{Path: path}, nil)
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

func BenchmarkListFirstPage100k(b *testing.B) {
	c := openBenchCatalog(b)
	for _, s := range []Sort{BySize, ByActive} {
		for _, class := range []string{"", "c3"} {
			b.Run(fmt.Sprintf("sort=%s/class=%s", s, orAll(class)), func(b *testing.B) {
				o := ListOptions{Sort: s, Class: class, Limit: 50}
				b.ReportAllocs()
				for b.Loop() {
					page, err := c.List(b.Context(), o)
					if err != nil || len(page.Entries) != 50 {
						b.Fatalf("List = %d entries, %v", len(page.Entries), err)
					}
				}
			})
		}
	}
}

// BenchmarkListMiddlePage100k reads the page after row 50,000: keyset
// pagination makes it cost the same as the first.
func BenchmarkListMiddlePage100k(b *testing.B) {
	c := openBenchCatalog(b)
	for _, s := range []Sort{BySize, ByActive} {
		b.Run(fmt.Sprintf("sort=%s", s), func(b *testing.B) {
			row, err := scanEntry(c.rdb.QueryRowContext(b.Context(), "SELECT "+columns+" FROM objects ORDER BY "+
				sorts[s].col+" DESC, class, id LIMIT 1 OFFSET 49999"))
			if err != nil {
				b.Fatal(err)
			}
			o := ListOptions{Sort: s, Limit: 50, Cursor: cursorAfter(sorts[s], row).encode(sorts[s])}
			b.ReportAllocs()
			for b.Loop() {
				page, err := c.List(b.Context(), o)
				if err != nil || len(page.Entries) != 50 {
					b.Fatalf("List = %d entries, %v", len(page.Entries), err)
				}
			}
		})
	}
}

func orAll(class string) string {
	if class == "" {
		return "all"
	}
	return class
}

// BenchmarkUpdateFlush updates 10,000 existing rows and flushes them: one
// transaction with the prepared upsert. ns/update is the cost of one row.
func BenchmarkUpdateFlush(b *testing.B) {
	const n = 10_000
	c := openTest(b, Config{Logger: slog.New(slog.DiscardHandler)}, nil)
	keys := make([]Key, n)
	for i := range keys {
		keys[i] = key(fmt.Sprintf("c%d", i%10), i)
		c.Update(Update{Key: keys[i], Name: "x", Created: t0})
	}
	flush(b, c)
	b.ReportAllocs()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		for j, k := range keys {
			c.Update(Update{Key: k, LastActive: at, Size: int64(4096 * (j%100 + i)), SetSize: true})
		}
		flush(b, c)
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*n), "ns/update")
}

// BenchmarkUpdate is the hot path alone: merging an Update into the pending
// map, which the runtime does after every commit of every object.
func BenchmarkUpdate(b *testing.B) {
	c := openTest(b, Config{}, nil)
	keys := make([]Key, 1024)
	for i := range keys {
		keys[i] = key("counter", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.Update(Update{Key: keys[i%len(keys)], LastActive: t0, Size: int64(i), SetSize: true})
	}
}

// BenchmarkSetWakeParallel is durable SetWake from many goroutines, which
// share transactions.
func BenchmarkSetWakeParallel(b *testing.B) {
	c := openTest(b, Config{}, nil)
	b.ReportAllocs()
	b.SetParallelism(16)
	var next sync.Mutex
	n := 0
	b.RunParallel(func(pb *testing.PB) {
		next.Lock()
		n++
		class := fmt.Sprintf("c%d", n)
		next.Unlock()
		for i := 0; pb.Next(); i++ {
			if err := c.SetWake(b.Context(), key(class, i%100), t0.Add(time.Duration(i)*time.Second)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/float64(max(c.txs.Load(), 1)), "calls/tx")
}
