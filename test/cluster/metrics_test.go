package cluster_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/cluster"
)

// clusterMetrics are the series issue 13 names, with their types.
var clusterMetrics = map[string]string{
	"roost_cluster_replication_seconds":    "histogram",
	"roost_cluster_publish_failures_total": "counter",
	"roost_cluster_fences_total":           "counter",
	"roost_cluster_failovers_total":        "counter",
	"roost_cluster_snapshot_bytes":         "histogram",
	"roost_cluster_corrupt_logs_total":     "counter",
}

// metricValue returns the value of the unlabeled sample name in a
// Prometheus exposition, failing the test if it is missing.
func metricValue(t *testing.T, metrics, name string) float64 {
	t.Helper()
	line := metricLine(metrics, name+" ")
	v, err := strconv.ParseFloat(strings.TrimPrefix(line, name+" "), 64)
	if err != nil {
		t.Fatalf("metric %s: %q: %v", name, line, err)
	}
	return v
}

// scrape returns the node's /metrics.
func scrape(t *testing.T, c *cluster.Cluster, n *cluster.Node) string {
	t.Helper()
	return must(t, c.Client(), http.MethodGet, n.URL+"/metrics", "")
}

// sumOver adds a sample over the nodes.
func sumOver(t *testing.T, c *cluster.Cluster, nodes []*cluster.Node, name string) float64 {
	t.Helper()
	sum := 0.0
	for _, n := range nodes {
		sum += metricValue(t, scrape(t, c, n), name)
	}
	return sum
}

// After writes, a snapshot, a node cut off from the others and a kill -9,
// every node exposes the cluster's series, and they count what happened:
// the writes' replication, the snapshot's size, the cut node's failed
// publish and its fence, and the other nodes' takeovers of the cut and of
// the killed node's shards.
func TestCluster_MetricsCountReplicationSnapshotsFencesAndFailovers(t *testing.T) {
	c := start(t, 3)
	const writes = 30
	for i := range writes {
		must(t, c.Client(), http.MethodPost, c.URL()+"/ctr/"+objName("m", i), "")
	}
	// A log that outgrows its database (and 1 MiB) is snapshotted: eight
	// incompressible 512 KiB values overwrite one register.
	for range 8 {
		must(t, c.Client(), http.MethodPut, c.URL()+"/reg/snap", string(randomBytes(t, 512<<10)))
	}
	for _, n := range c.Nodes {
		metrics := scrape(t, c, n)
		for name, typ := range clusterMetrics {
			if !strings.Contains(metrics, "\n# TYPE "+name+" "+typ+"\n") {
				t.Errorf("%s /metrics: no %s %s", n.Name, typ, name)
			}
		}
	}
	replicated := sumOver(t, c, c.Nodes, "roost_cluster_replication_seconds_count")
	seconds := sumOver(t, c, c.Nodes, "roost_cluster_replication_seconds_sum")
	if replicated < writes+8 || seconds <= 0 || seconds/replicated > 1 {
		t.Errorf("replication: %v appends in %vs, want at least %d, each well under a second", replicated, seconds, writes+8)
	}
	snaps := sumOver(t, c, c.Nodes, "roost_cluster_snapshot_bytes_count")
	if bytes := sumOver(t, c, c.Nodes, "roost_cluster_snapshot_bytes_sum"); snaps < 1 || bytes < snaps*(512<<10) {
		t.Errorf("snapshots: %v of %v bytes, want at least one of at least 512 KiB", snaps, bytes)
	}
	t.Logf("%v appends in %.3fs; %v snapshots", replicated, seconds, snaps)
	cutOwner(t, c)
	c.Heal()
	killOwner(t, c)
}

// killOwner kills n1 (kill -9) once the healed n3 holds shards again: the
// others take n1's shards over (failovers).
func killOwner(t *testing.T, c *cluster.Cluster) {
	for range 300 {
		if held, _ := shardsOf(t, c, c.Nodes[2].URL, c.Nodes[2].Name); held > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	failovers := sumOver(t, c, c.Nodes[1:], "roost_cluster_failovers_total")
	c.Nodes[0].Kill(t)
	awaitMetric(t, c, c.Nodes[1:], "roost_cluster_failovers_total", failovers)
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// cutOwner cuts n3 off and writes, through it, to an object it owns: the
// write's publish fails (no quorum), n3 loses its leases (fences), and the
// other nodes take its shards over (failovers).
func cutOwner(t *testing.T, c *cluster.Cluster) {
	n3 := c.Nodes[2]
	name, arm := armedTickerOf(t, c, n3)
	before := metricValue(t, scrape(t, c, n3), "roost_cluster_publish_failures_total")
	fences := sumOver(t, c, c.Nodes[2:], "roost_cluster_fences_total")
	failovers := sumOver(t, c, c.Nodes[:2], "roost_cluster_failovers_total")
	c.Isolate(2)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// The same alarm: no new wake to record, so the commit's publish is
	// the first write to the cluster.
	status, body, err := do(ctx, c.Client(), http.MethodPost, n3.URL+"/ticker/"+name, arm)
	if err == nil && status == http.StatusOK {
		t.Fatalf("n3, cut off, acknowledged a write: %q", body)
	}
	t.Logf("a write through n3 cut off: status %d %q %v", status, body, err)
	failed := metricValue(t, scrape(t, c, n3), "roost_cluster_publish_failures_total")
	if failed <= before {
		t.Errorf("roost_cluster_publish_failures_total on n3 %v after a failed publish, %v before", failed, before)
	}
	awaitMetric(t, c, c.Nodes[2:], "roost_cluster_fences_total", fences)
	awaitMetric(t, c, c.Nodes[:2], "roost_cluster_failovers_total", failovers)
}

// armedTickerOf returns a ticker that node owns, armed with an alarm an
// hour away, and the body that armed it.
func armedTickerOf(t *testing.T, c *cluster.Cluster, node *cluster.Node) (name, arm string) {
	t.Helper()
	for i := range 200 {
		name = objName("tk", i)
		if must(t, c.Client(), http.MethodGet, c.URL()+"/ticker/"+name, "") == node.Name {
			arm = fmt.Sprintf(`{"name":%q,"alarm":%d}`, name, time.Now().Add(time.Hour).UnixMilli())
			must(t, c.Client(), http.MethodPost, node.URL+"/ticker/"+name, arm)
			return name, arm
		}
	}
	t.Fatalf("no ticker of 200 owned by %s", node.Name)
	return "", ""
}

// awaitMetric waits (up to 30 s) until the sum of a counter over nodes
// exceeds before.
func awaitMetric(t *testing.T, c *cluster.Cluster, nodes []*cluster.Node, name string, before float64) {
	t.Helper()
	for range 300 {
		if v := sumOver(t, c, nodes, name); v > before {
			t.Logf("%s = %v on %d nodes", name, v, len(nodes))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("%s is still %v on %d nodes after 30s", name, before, len(nodes))
}
