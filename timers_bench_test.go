package roost_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost"
)

var (
	benchPending   = flag.Int("timers.pending", 10_000, "BenchmarkTimerFires: timers pending when the clock reaches them")
	benchPerObject = flag.Int("timers.per-object", 100, "BenchmarkTimerFires: timers on each object")
)

// BenchmarkTimerFires measures how fast due timers are delivered: it sets
// -timers.pending named timers (-timers.per-object on each object), all due
// at the same moment, then moves the virtual clock there and times until
// every one has fired. Each fire is an event of its own with its own commit
// (the handler writes nothing, but the fire's removal is durable). The
// objects are out of memory when their timers come due (the clock passes
// their idle timeout), so fires also pay for activations.
func BenchmarkTimerFires(b *testing.B) {
	for _, durability := range []string{roost.DurabilityFull, roost.DurabilityNormal} {
		b.Run("durability="+durability, func(b *testing.B) {
			pending := *benchPending
			objects := max(pending / *benchPerObject, 1)
			perObject := pending / objects
			app := newApp(b, roost.Config{Durability: durability})
			n := objects * perObject
			fired := &fireCount{want: int64(n), done: make(chan struct{})}
			ns := roost.Register(app.App, "bench", func(st *roost.State) (*benchTimers, error) {
				return &benchTimers{st: st, fired: fired}, nil
			})
			due := epoch.Add(time.Hour)
			var wg sync.WaitGroup
			work := make(chan int)
			for range 16 {
				wg.Go(func() {
					for i := range work {
						err := storageScript(b.Context(), ns, "o"+strconv.Itoa(i), func(ctx context.Context, s *roost.Storage) error {
							for j := range perObject {
								if err := s.Schedule(ctx, "t"+strconv.Itoa(j), due, nil); err != nil {
									return err
								}
							}
							return nil
						})
						if err != nil {
							b.Error(err)
						}
					}
				})
			}
			for i := range objects {
				work <- i
			}
			close(work)
			wg.Wait()
			b.ResetTimer()
			start := time.Now()
			app.Clock.Advance(time.Hour)
			select {
			case <-fired.done:
			case <-time.After(10 * time.Minute):
				b.Fatal("timers still pending after 10 minutes")
			}
			took := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(n)/took.Seconds(), "fires/s")
			b.ReportMetric(float64(took.Nanoseconds())/float64(n), "ns/fire")
			b.ReportMetric(0, "ns/op")
			b.Logf("%d timers on %d objects fired in %s (%s)", n, objects, took.Round(time.Millisecond), fmt.Sprint(durability))
		})
	}
}

// fireCount closes done when want fires were counted.
type fireCount struct {
	n, want int64
	mu      sync.Mutex
	done    chan struct{}
}

func (c *fireCount) add() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n++; c.n == c.want {
		close(c.done)
	}
}

// benchTimers counts its fires; its events run storage scripts.
type benchTimers struct {
	st    *roost.State
	fired *fireCount
}

func (o *benchTimers) Timer(ctx context.Context, f roost.TimerFire) error {
	o.fired.add()
	return nil
}

// storageScript runs fn on the storage of the benchTimers object named name.
func storageScript(ctx context.Context, ns *roost.Namespace, name string, fn func(ctx context.Context, s *roost.Storage) error) error {
	ctx = context.WithValue(ctx, scriptKey{}, fn)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
	if err != nil {
		return err
	}
	resp, err := ns.GetByName(name).Fetch(ctx, req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func (o *benchTimers) Fetch(w http.ResponseWriter, r *http.Request) error {
	fn := r.Context().Value(scriptKey{}).(func(ctx context.Context, s *roost.Storage) error)
	return fn(r.Context(), o.st.Storage())
}
