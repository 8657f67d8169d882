package workflow

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/roost-dev/roost"
)

// BenchmarkIndex_MillionInstances pages through the index of a workflow
// with 1,000,000 instances: 999,900 complete and 100 running, spread
// evenly. It measures the listings that must stay fast at that size: a page
// from the middle, the running ones among the complete, and a purge's query
// for expired instances.
func BenchmarkIndex_MillionInstances(b *testing.B) {
	app, err := roost.Open(context.Background(), roost.Config{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler),
		Durability: roost.DurabilityNormal})
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close(context.Background())
	e := NewWithOptions(app, Options{Retention: -1})
	defer e.Close(context.Background())
	d := Define(e, "big", func(ctx Context, p int) (int, error) { return p, nil }).def
	ctx := context.Background()
	const n, batch = 1_000_000, 50_000
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	for first := 0; first < n; first += batch {
		entries := make([]entry, 0, batch)
		for i := first; i < first+batch; i++ {
			status := StatusComplete
			if i%10_000 == 0 {
				status = StatusRunning
			}
			at := t0.Add(time.Duration(i) * time.Millisecond)
			entries = append(entries, entry{ID: fmt.Sprintf("i%07d", i), Status: status, Created: at, Updated: at})
		}
		if err := roost.Do(ctx, e.index.ns.GetByName("big"), func(ctx context.Context, o *indexObject) error {
			return o.upsert(ctx, entries)
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("indexed %d instances in %s", n, time.Since(start).Round(time.Millisecond))
	page := func(b *testing.B, opts ListOptions, want int) {
		for b.Loop() {
			p, err := e.List(ctx, "big", opts)
			if err != nil || len(p.Instances) != want {
				b.Fatalf("listed %d, %v; want %d", len(p.Instances), err, want)
			}
		}
	}
	b.Run("page-of-100-from-the-middle", func(b *testing.B) {
		page(b, ListOptions{Cursor: base64.RawURLEncoding.EncodeToString([]byte("i0500000")), Limit: 100}, 100)
	})
	b.Run("the-100-running-of-1M", func(b *testing.B) { page(b, ListOptions{Status: StatusRunning, Limit: 100}, 100) })
	b.Run("last-page-of-complete", func(b *testing.B) {
		page(b, ListOptions{Status: StatusComplete, Cursor: base64.RawURLEncoding.EncodeToString([]byte("i0999900")), Limit: 100}, 99)
	})
	b.Run("purge-query-100-expired", func(b *testing.B) {
		for b.Loop() {
			ids, err := e.expired(ctx, d, expiredQuery{Before: t0.Add(time.Hour).UnixMilli(), Limit: purgeBatch})
			if err != nil || len(ids) != purgeBatch {
				b.Fatalf("%d, %v", len(ids), err)
			}
		}
	})
}
