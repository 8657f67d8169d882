package cluster_test

import (
	"net/http"
	"strconv"
	"testing"
)

// TestCluster_RestartAfterKill restarts a killed node whose data directory
// holds objects that other nodes own by then: it starts (it does not open
// them without their shard's lease) and serves them again, all writes in.
func TestCluster_RestartAfterKill(t *testing.T) {
	c := start(t, 3)
	hc := c.Client()
	for round := range 2 {
		for i := range 30 {
			must(t, hc, http.MethodPost, c.URL()+"/ctr/"+objName("k", i), "")
		}
		victim := c.Nodes[round%len(c.Nodes)]
		victim.Kill(t)
		for i := range 30 { // the others serve them, after a failover
			must(t, hc, http.MethodGet, c.Nodes[(victim.Index+1)%3].URL+"/ctr/"+objName("k", i), "")
		}
		victim.Restart(t)
	}
	for i := range 30 {
		for _, u := range c.URLs() {
			if got := must(t, hc, http.MethodGet, u+"/ctr/"+objName("k", i), ""); got != strconv.Itoa(2) {
				t.Fatalf("%s through %s = %s, want 2", objName("k", i), u, got)
			}
		}
	}
}
