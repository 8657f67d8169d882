package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/cluster"
)

// strictWriters increment counters through some nodes and count every
// request that is not answered 200 as a failure.
type strictWriters struct {
	urls     []string
	counters int
	mu       sync.Mutex
	acked    map[string]int64 // counter → acknowledged increments
	failures []string
}

func (w *strictWriters) run(ctx context.Context, c *cluster.Cluster, id int) {
	for i := 0; ctx.Err() == nil; i++ {
		name := objName("d", (id*5+i)%w.counters)
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		status, body, err := do(rctx, c.Client(), http.MethodPost, w.urls[i%len(w.urls)]+"/ctr/"+name, "")
		cancel()
		w.mu.Lock()
		if err == nil && status == http.StatusOK {
			w.acked[name]++
		} else {
			w.failures = append(w.failures, fmt.Sprintf("%s at %s: status %d %.800s %v", name, time.Now().Format("15:04:05.000"), status, body, err))
		}
		w.mu.Unlock()
	}
}

// shardsOf returns how many shards node holds in url's view.
func shardsOf(t *testing.T, c *cluster.Cluster, url, node string) (held int, draining bool) {
	t.Helper()
	st := getStatus(t, c, url)
	for _, l := range st.Leases {
		if l.Node == node {
			held++
		}
	}
	for _, m := range st.Members {
		if m.Name == node {
			draining = m.Draining
		}
	}
	return held, draining
}

func TestCluster_DrainFailsNoRequest(t *testing.T) {
	c := start(t, 3)
	n3 := c.Nodes[2]
	for range 300 { // until the shards are spread over the three nodes
		if held, _ := shardsOf(t, c, n3.URL, n3.Name); held > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	w := &strictWriters{urls: c.URLs()[:2], counters: 24, acked: map[string]int64{}}
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { w.run(ctx, c, i) })
	}
	time.Sleep(time.Second)
	held, _ := shardsOf(t, c, n3.URL, n3.Name)
	unknown := roostCLI(t, "cluster", "drain", "n9", "--server", c.Nodes[0].URL)
	if unknown.code == 0 || !strings.Contains(unknown.stderr, "not_found") || !strings.Contains(unknown.stderr, "n9") {
		t.Errorf("roost cluster drain n9 (no such node): exit %d, stdout %q, stderr %q; want a non-zero exit and not_found", unknown.code, unknown.stdout, unknown.stderr)
	}
	drain := roostCLI(t, "cluster", "drain", n3.Name, "--server", c.Nodes[0].URL)
	if drain.code != 0 || !strings.Contains(drain.stdout, "drained "+n3.Name) {
		t.Fatalf("roost cluster drain %s: exit %d, stdout %q, stderr %q", n3.Name, drain.code, drain.stdout, drain.stderr)
	}
	t.Logf("roost cluster drain %s, which held %d shards: %s", n3.Name, held, strings.TrimSpace(drain.stdout))
	for _, u := range c.URLs() {
		if held, draining := shardsOf(t, c, u, n3.Name); held != 0 || !draining {
			t.Errorf("GET %s/_roost/cluster after the drain: %s holds %d shards, draining %v", u, n3.Name, held, draining)
		}
	}
	// A graceful move fences nothing: the drained node lost no lease.
	metrics := must(t, c.Client(), http.MethodGet, n3.URL+"/metrics", "")
	if !strings.Contains(metrics, "\nroost_cluster_fences_total 0\n") {
		t.Errorf("%s fenced itself during its drain: %s", n3.Name, metricLine(metrics, "roost_cluster_fences_total "))
	}
	time.Sleep(time.Second)
	n3.Term(t)
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	checkStrict(t, c, w)
}

// checkStrict requires no failed request and every counter to hold exactly
// its acknowledged increments, read through the nodes still running.
func checkStrict(t *testing.T, c *cluster.Cluster, w *strictWriters) {
	t.Helper()
	for i, f := range w.failures {
		if i == 10 {
			t.Errorf("… %d failures in all", len(w.failures))
			break
		}
		t.Errorf("failed request: %s", f)
	}
	total := int64(0)
	for name, n := range w.acked {
		total += n
		for _, u := range w.urls {
			if got := must(t, c.Client(), http.MethodGet, u+"/ctr/"+name, ""); got != strconv.FormatInt(n, 10) {
				t.Errorf("%s read through %s = %s, want %d (its acknowledged increments)", name, u, got, n)
			}
		}
	}
	t.Logf("%d acknowledged increments on %d counters, %d failed requests", total, len(w.acked), len(w.failures))
}

// metricLine returns the line of a Prometheus exposition that starts with
// prefix.
func metricLine(metrics, prefix string) string {
	for line := range strings.Lines(metrics) {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(line)
		}
	}
	return prefix + "(missing)"
}
