package yjs_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/roosttest"
	"github.com/roost-dev/roost/yjs"
)

// BenchmarkFanOut measures the fan-out of a document's updates to 100
// clients over loopback WebSockets: one writer sends the recorded typing
// session's updates (each stored before it is relayed), and every reader
// must receive each. "paced" sends one update at a time and reports the
// p50 and p99 of the time from its send to its arrival at the last of the
// readers; "flood" sends them all at once and reports updates/s delivered
// to every reader. Each update is one event of the document, its commit
// an fsync with durability "full" (the default): "normal" shows what the
// syncs take.
func BenchmarkFanOut(b *testing.B) {
	updates, _ := recorded(b, "typing")
	readers := 100
	for _, durability := range []string{roost.DurabilityFull, roost.DurabilityNormal} {
		for _, mode := range []string{"paced", "flood"} {
			b.Run(fmt.Sprintf("%s/durability=%s/readers=%d", mode, durability, readers), func(b *testing.B) {
				fanOut(b, updates, readers, mode, durability)
			})
		}
	}
}

func fanOut(b *testing.B, updates [][]byte, readers int, mode, durability string) {
	env := roosttest.New(b, func(app *roost.App, _ *roosttest.Env) { yjs.Register(app, "yjs", nil) },
		roosttest.WithConfig(func(cfg *roost.Config) { cfg.Durability = durability }))
	var lat []time.Duration
	sent := 0
	for i := 0; b.Loop(); i++ {
		doc := fmt.Sprintf("/yjs/bench-%s-%d", mode, i)
		w := env.DialWS(doc)
		read(b, w)
		conns := make([]*websocket.Conn, readers)
		for r := range conns {
			conns[r] = env.DialWS(doc)
			read(b, conns[r])
		}
		var wg sync.WaitGroup
		arrived := make([]chan time.Time, readers)
		failed := make(chan error, readers)
		for r, c := range conns {
			arrived[r] = make(chan time.Time, len(updates))
			wg.Go(func() {
				for range updates {
					c.SetReadDeadline(time.Now().Add(time.Minute))
					if _, _, err := c.ReadMessage(); err != nil {
						failed <- err
						close(arrived[r])
						return
					}
					arrived[r] <- time.Now()
				}
			})
		}
		if mode == "paced" {
			for _, u := range updates[:500] {
				start := time.Now()
				write(b, w, syncMsg(2, u))
				last := start
				for r := range conns {
					if at := <-arrived[r]; at.After(last) {
						last = at
					}
				}
				lat = append(lat, last.Sub(start))
			}
			for _, u := range updates[500:] {
				write(b, w, syncMsg(2, u))
			}
		} else {
			for _, u := range updates {
				write(b, w, syncMsg(2, u))
			}
		}
		wg.Wait()
		select {
		case err := <-failed:
			b.Fatalf("a reader: %v", err)
		default:
		}
		sent += len(updates)
		for _, c := range append(conns, w) {
			c.Close()
		}
	}
	if mode == "flood" {
		b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "updates/s")
	} else {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
	b.ReportMetric(float64(readers), "readers")
}
