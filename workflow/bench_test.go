package workflow_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/orders"
	"github.com/roost-dev/roost/workflow"
)

// BenchmarkThreeStep creates instances of the three-step workflow of the
// side-by-side benchmark and waits for each to complete, from 32 callers
// per GOMAXPROCS, in process (no HTTP).
func BenchmarkThreeStep(b *testing.B) {
	for _, durability := range []string{roost.DurabilityFull, roost.DurabilityNormal} {
		b.Run(durability, func(b *testing.B) {
			app, err := roost.Open(context.Background(), roost.Config{Dir: b.TempDir(), Durability: durability, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			e := workflow.New(app)
			defer app.Close(context.Background())
			defer e.Close(context.Background())
			wf := workflow.Define(e, "threestep", orders.ThreeStep)
			var n atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					inst, _, err := wf.Create(ctx, fmt.Sprintf("b%d", n.Add(1)), 1)
					if err != nil {
						b.Error(err)
						return
					}
					wctx, cancel := context.WithTimeout(ctx, time.Minute) // a lost instance fails, not hangs
					st, err := inst.Wait(wctx)
					cancel()
					if err != nil || st.Status != workflow.StatusComplete {
						b.Errorf("%+v, %v", st, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "instances/s")
		})
	}
}
