package cluster_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/cluster"
)

// tally is what the writers know of one counter: the values that
// acknowledged increments answered, and how many increments have an
// unknown outcome (no answer, or a 5xx that may follow a publish).
type tally struct {
	acked   []int64
	unknown int
}

// writers increment counters through every node until stop, recording
// each counter's tally and when each counter last got an acknowledgement.
type writers struct {
	c        *cluster.Cluster
	counters int
	mu       sync.Mutex
	tallies  map[string]*tally
	lastAck  map[string]time.Time
	lastErr  map[string]string // the last failure per counter, for a failing test's message
	avoid    int               // 1 + the index of a node the writers leave out (0: none)
}

// url picks a node's URL for a writer's next request, leaving out the
// avoided node: a client's load balancer takes a node that stopped
// answering out of its rotation. (Without it, writers waiting out their
// timeouts on a paused node measured those, not the failover.)
func (w *writers) url(rng *rand.Rand, urls []string) string {
	w.mu.Lock()
	avoid := w.avoid - 1
	w.mu.Unlock()
	for {
		if i := rng.IntN(len(urls)); i != avoid {
			return urls[i]
		}
	}
}

// setAvoid sets the node the writers leave out: its index, or -1 for none.
func (w *writers) setAvoid(i int) {
	w.mu.Lock()
	w.avoid = i + 1
	w.mu.Unlock()
}

func (w *writers) run(ctx context.Context, id int) {
	urls := w.c.URLs()
	rng := rand.New(rand.NewPCG(uint64(id), 7))
	for i := 0; ctx.Err() == nil; i++ {
		name := objName("c", (id*7+i)%w.counters)
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		status, body, err := do(rctx, w.c.Client(), http.MethodPost, w.url(rng, urls)+"/ctr/"+name, "")
		cancel()
		w.record(name, status, body, err, ctx.Err() != nil)
		if err != nil || status != http.StatusOK {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (w *writers) record(name string, status int, body string, err error, stopping bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.tallies[name]
	if err != nil || status != http.StatusOK {
		w.lastErr[name] = fmt.Sprintf("status %d %.200s %v", status, body, err)
	}
	switch {
	case err == nil && status == http.StatusOK:
		v, _ := strconv.ParseInt(body, 10, 64)
		t.acked = append(t.acked, v)
		w.lastAck[name] = time.Now()
	case isRefused(err):
		// Never reached a node (it is dead): nothing ran.
	case err != nil || status >= 500 || stopping:
		t.unknown++
	default:
		t.unknown++ // a 4xx would be a bug; check reports it through the totals
	}
}

// allAckedSince reports whether every counter was acknowledged after t.
func (w *writers) allAckedSince(t time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for name := range w.tallies {
		if !w.lastAck[name].After(t) {
			return false
		}
	}
	return true
}

func TestCluster_KillOwnerLosesNoAcknowledgedWrite(t *testing.T) {
	c := start(t, 3)
	w := &writers{c: c, counters: 24, tallies: map[string]*tally{}, lastAck: map[string]time.Time{}, lastErr: map[string]string{}}
	for i := range w.counters {
		w.tallies[objName("c", i)] = &tally{}
	}
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() { w.run(ctx, i) })
	}
	var failovers []time.Duration
	for round := range rounds(3) {
		time.Sleep(time.Second)
		victim := c.Nodes[round%len(c.Nodes)]
		killed := time.Now()
		victim.Kill(t)
		failovers = append(failovers, waitFailover(t, w, killed))
		victim.Restart(t)
	}
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	checkTallies(t, c, w.tallies)
	report(t, "failover after kill -9", failovers)
}

// waitFailover waits until every counter was acknowledged again after the
// kill, and returns how long that took.
func waitFailover(t *testing.T, w *writers, killed time.Time) time.Duration {
	t.Helper()
	for time.Since(killed) < 120*time.Second {
		if w.allAckedSince(killed) {
			return time.Since(killed)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for name := range w.tallies {
		if !w.lastAck[name].After(killed) {
			t.Errorf("%s: not acknowledged since the fault; last failure: %s", name, w.lastErr[name])
		}
	}
	t.Fatalf("some counters were not writable within 120 s of the fault")
	return 0
}

// checkTallies reads every counter through every node and checks that no
// acknowledged increment was lost: the acknowledged values are distinct
// (two acknowledgements of one value would be a lost update), and the
// final value counts every acknowledged increment and no more than the
// unknown ones besides.
func checkTallies(t *testing.T, c *cluster.Cluster, tallies map[string]*tally) {
	t.Helper()
	acked, unknown := 0, 0
	for name, tl := range tallies {
		acked, unknown = acked+len(tl.acked), unknown+tl.unknown
		vals := slices.Clone(tl.acked)
		slices.Sort(vals)
		if d := slices.Compact(slices.Clone(vals)); len(d) != len(vals) {
			t.Errorf("%s: two acknowledged increments answered the same value: %v", name, vals)
		}
		if got := must(t, c.Client(), http.MethodGet, c.URL()+"/ctr/"+name+"/check", ""); got != "ok" {
			t.Errorf("%s: PRAGMA integrity_check = %q", name, got)
		}
		for _, u := range c.URLs() {
			got, _ := strconv.ParseInt(must(t, c.Client(), http.MethodGet, u+"/ctr/"+name, ""), 10, 64)
			n := int64(len(vals))
			if got < n || (n > 0 && got < vals[n-1]) || got > n+int64(tl.unknown) {
				t.Errorf("%s read through %s = %d; acknowledged %d increments (highest value %v), %d unknown",
					name, u, got, n, vals[max(n-1, 0):], tl.unknown)
			}
		}
	}
	t.Logf("%d counters: %d acknowledged increments, %d with unknown outcome; none lost, every database passes integrity_check", len(tallies), acked, unknown)
	if acked == 0 {
		t.Fatal("no increment was acknowledged")
	}
}

// report logs the p50, p99 and max of durations.
func report(t *testing.T, what string, ds []time.Duration) {
	t.Helper()
	s := slices.Clone(ds)
	slices.Sort(s)
	pct := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	t.Logf("%s: %d trials, p50 %v, p99 %v, max %v", what, len(s), pct(0.5).Round(time.Millisecond),
		pct(0.99).Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}
