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

// openBench opens an app with durability on a temporary directory and its
// engine; both close when the benchmark ends.
func openBench(b *testing.B, durability string) (*roost.App, *workflow.Engine) {
	app, err := roost.Open(context.Background(), roost.Config{Dir: b.TempDir(), Durability: durability, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	e := workflow.New(app)
	b.Cleanup(func() {
		e.Close(context.Background())
		app.Close(context.Background())
	})
	return app, e
}

// BenchmarkThreeStep creates instances of the three-step workflow of the
// side-by-side benchmark and waits for each to complete, from 32 callers
// per GOMAXPROCS, in process (no HTTP).
func BenchmarkThreeStep(b *testing.B) {
	for _, durability := range []string{roost.DurabilityFull, roost.DurabilityNormal} {
		b.Run(durability, func(b *testing.B) {
			_, e := openBench(b, durability)
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

// benchHost hosts instances of the three-step workflow for
// BenchmarkThreeStep_Hosted.
type benchHost struct{ wf *workflow.Host }

func (h *benchHost) WorkflowHost() *workflow.Host { return h.wf }

func (h *benchHost) Timer(ctx context.Context, f roost.TimerFire) error {
	_, err := h.wf.Timer(ctx, f)
	return err
}

// BenchmarkThreeStep_Hosted is BenchmarkThreeStep with the instances hosted
// in 4, 16 or 64 objects (workflow.Host): their journals share their host's
// database, and their steps take turns in its events. A caller starts an
// instance in an event of its host, then reads its status there until it
// is complete, after 1 ms, then at most 16 ms apart (as the lab's
// create-poll does over HTTP).
func BenchmarkThreeStep_Hosted(b *testing.B) {
	for _, c := range []struct {
		durability string
		hosts      int
	}{{roost.DurabilityFull, 4}, {roost.DurabilityFull, 16}, {roost.DurabilityFull, 64}, {roost.DurabilityNormal, 16}} {
		durability, hosts := c.durability, c.hosts
		b.Run(fmt.Sprintf("%s/hosts=%d", durability, hosts), func(b *testing.B) {
			app, e := openBench(b, durability)
			wf := workflow.Define(e, "threestep", orders.ThreeStep)
			ns := roost.Register(app, "host", func(st *roost.State) (*benchHost, error) {
				return &benchHost{wf: workflow.NewHost(e, st)}, nil
			})
			var n atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					i := n.Add(1)
					host, id := ns.GetByName(fmt.Sprint("h", i%int64(hosts))), fmt.Sprintf("b%d", i)
					if err := roost.Do(ctx, host, func(ctx context.Context, h *benchHost) error {
						_, err := workflow.Start(ctx, h.wf, wf, id, 1)
						return err
					}); err != nil {
						b.Error(err)
						return
					}
					for pause, deadline := time.Millisecond, time.Now().Add(time.Minute); ; pause = min(2*pause, 16*time.Millisecond) {
						time.Sleep(pause)
						var st *workflow.Status
						err := roost.Do(ctx, host, func(ctx context.Context, h *benchHost) (err error) {
							st, err = h.wf.Status(ctx, "threestep", id)
							return err
						})
						if err != nil || st.Status == workflow.StatusErrored || time.Now().After(deadline) {
							b.Errorf("%+v, %v", st, err)
							return
						}
						if st.Status == workflow.StatusComplete {
							break
						}
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "instances/s")
		})
	}
}
