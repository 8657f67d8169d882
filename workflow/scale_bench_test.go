package workflow_test

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/orders"
	"github.com/roost-dev/roost/workflow"
)

// BenchmarkScale runs the life of b.N instances of the three-step workflow
// at full durability, as the million-instance run of BENCHMARKS.md does
// with -benchtime 1000000x: it creates them and waits for each to complete
// (64 callers per GOMAXPROCS... 32, as BenchmarkThreeStep), lists them all
// a page of 1,000 at a time, measures the data directory, and purges them
// all. It reports each phase's time and the bytes on disk per completed
// instance (its partitions' and index's files, after their WALs are
// checkpointed: the engine is closed and opened again first).
func BenchmarkScale(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	open := func(checkpointAfter time.Duration) (*roost.App, *workflow.Engine, *workflow.Workflow[int, int]) {
		app, err := roost.Open(ctx, roost.Config{Dir: dir, Durability: roost.DurabilityFull, CheckpointAfter: checkpointAfter})
		if err != nil {
			b.Fatal(err)
		}
		e := workflow.New(app)
		return app, e, workflow.Define(e, "threestep", orders.ThreeStep)
	}
	closeAll := func(app *roost.App, e *workflow.Engine) {
		if err := e.Close(ctx); err != nil {
			b.Fatal(err)
		}
		if err := app.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
	app, e, wf := open(0)
	var n, done atomic.Int64
	start := time.Now()
	stop := make(chan struct{})
	go func() { // progress, for a run of a million
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				b.Logf("%s: %d instances complete", time.Since(start).Round(time.Second), done.Load())
			}
		}
	}()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			inst, _, err := wf.Create(ctx, fmt.Sprintf("s%07d", n.Add(1)), 1)
			if err != nil {
				b.Error(err)
				return
			}
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			st, err := inst.Wait(wctx)
			cancel()
			if err != nil || st.Status != workflow.StatusComplete {
				b.Errorf("%+v, %v", st, err)
				return
			}
			done.Add(1)
		}
	})
	b.StopTimer()
	close(stop)
	created := time.Since(start)
	b.ReportMetric(float64(b.N)/created.Seconds(), "instances/s")

	t0 := time.Now()
	listed, opts := 0, workflow.ListOptions{Limit: 1000}
	for {
		page, err := e.List(ctx, "threestep", opts)
		if err != nil {
			b.Fatal(err)
		}
		listed += len(page.Instances)
		if page.Cursor == "" {
			break
		}
		opts.Cursor = page.Cursor
	}
	if listed != b.N {
		b.Fatalf("listed %d instances, want %d", listed, b.N)
	}
	b.ReportMetric(time.Since(t0).Seconds(), "list-s")

	// Closed and opened again, the objects are out of memory: their WALs
	// are checkpointed and truncated once they have been for
	// CheckpointAfter, as an idle server's are after a minute.
	closeAll(app, e)
	app, e, _ = open(time.Millisecond)
	defer closeAll(app, e)
	for deadline := time.Now().Add(time.Minute); walBytes(b, dir) > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("WALs of %d bytes after a minute", walBytes(b, dir))
		}
	}
	b.ReportMetric(float64(diskBytes(b, dir))/float64(b.N), "disk-B/instance")
	if testing.Verbose() {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				info, _ := d.Info()
				b.Logf("%10d %s", info.Size(), p[len(dir):])
			}
			return nil
		})
	}

	t0 = time.Now()
	purged, err := e.Purge(ctx, "threestep", workflow.PurgeOptions{})
	if err != nil || purged != b.N {
		b.Fatalf("purged %d of %d: %v", purged, b.N, err)
	}
	b.ReportMetric(time.Since(t0).Seconds(), "purge-s")
}

// diskBytes is the size of the files under dir.
func diskBytes(b *testing.B, dir string) int64 { return filesBytes(b, dir, "") }

// walBytes is the size of the WAL files of the objects under dir.
func walBytes(b *testing.B, dir string) int64 {
	return filesBytes(b, filepath.Join(dir, "objects"), "-wal")
}

// filesBytes is the size of the files under dir whose names end with
// suffix.
func filesBytes(b *testing.B, dir, suffix string) int64 {
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, suffix) {
			return err
		}
		info, err := d.Info()
		if err == nil {
			total += info.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return total
}
