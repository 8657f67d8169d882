package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/cluster"
)

// clusterStatus is GET /_roost/cluster (internal/shards.Status).
type clusterStatus struct {
	Node    string `json:"node"`
	Shards  int    `json:"shards"`
	Members []struct {
		Name     string `json:"name"`
		Live     bool   `json:"live"`
		Draining bool   `json:"draining"`
		Shards   int    `json:"shards"`
	} `json:"members"`
	Leases []struct {
		Shard int    `json:"shard"`
		Node  string `json:"node"`
	} `json:"leases"`
	Streams []streamStatus `json:"streams"`
}

// streamStatus is one stream's health (internal/cluster.StreamStatus).
type streamStatus struct {
	Name      string `json:"name"`
	Replicas  int    `json:"replicas"`
	Leader    string `json:"leader"`
	Followers []struct {
		Name    string `json:"name"`
		Current bool   `json:"current"`
		Offline bool   `json:"offline"`
		Lag     uint64 `json:"lag"`
	} `json:"followers"`
	Messages uint64 `json:"messages"`
	Healthy  bool   `json:"healthy"`
	Error    string `json:"error"`
}

// streams are the streams Roost keeps, as status names them.
var streams = []string{"ROOST_LOG", "KV_ROOST_SHARDS", "KV_ROOST_MEMBERS", "KV_ROOST_WAKES", "OBJ_ROOST_SNAP"}

// streamsHealthy reports what keeps st from showing every stream at R3
// with a leader and two current followers ("" when nothing does).
func streamsHealthy(st clusterStatus) string {
	if len(st.Streams) != len(streams) {
		return fmt.Sprintf("%d streams, want %d", len(st.Streams), len(streams))
	}
	for i, s := range st.Streams {
		if s.Name != streams[i] || !s.Healthy || s.Replicas != 3 || s.Leader == "" || len(s.Followers) != 2 {
			return fmt.Sprintf("stream %d: %+v", i, s)
		}
	}
	return ""
}

func getStatus(t *testing.T, c *cluster.Cluster, url string) clusterStatus {
	t.Helper()
	var st clusterStatus
	if err := json.Unmarshal([]byte(must(t, c.Client(), http.MethodGet, url+"/_roost/cluster", "")), &st); err != nil {
		t.Fatalf("GET %s/_roost/cluster: %v", url, err)
	}
	return st
}

// placed reports what keeps st from showing every member live and every
// shard owned by a live member ("" when nothing does).
func placed(st clusterStatus, members int) string {
	live := map[string]bool{}
	for _, m := range st.Members {
		live[m.Name] = m.Live
	}
	if len(st.Members) != members || len(live) != members {
		return fmt.Sprintf("%d members, want %d", len(st.Members), members)
	}
	for name, ok := range live {
		if !ok {
			return name + " is not live"
		}
	}
	if len(st.Leases) != st.Shards || st.Shards == 0 {
		return fmt.Sprintf("%d leases for %d shards", len(st.Leases), st.Shards)
	}
	for i, l := range st.Leases {
		if l.Shard != i || !live[l.Node] {
			return fmt.Sprintf("shard %d: lease %+v", i, l)
		}
	}
	return ""
}

func TestCluster_StatusFromAnyNode(t *testing.T) {
	c := start(t, 3)
	for _, u := range c.URLs() {
		var why string
		for range 300 { // the shards are placed within a few leases of the start
			st := getStatus(t, c, u)
			if why = placed(st, 3) + streamsHealthy(st); why == "" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if why != "" {
			t.Fatalf("GET %s/_roost/cluster: %s", u, why)
		}
		st := getStatus(t, c, u)
		t.Logf("%s: %d shards; members %+v; streams %+v", st.Node, st.Shards, st.Members, st.Streams)
	}
	checkStatusCLI(t, c)
}

// checkStatusCLI runs `roost cluster status` against a node of a healthy
// cluster: a table of the members and one of the streams, every stream ok.
func checkStatusCLI(t *testing.T, c *cluster.Cluster) {
	run := roostCLI(t, "cluster", "status", "--server", c.Nodes[0].URL)
	if run.code != 0 {
		t.Fatalf("roost cluster status: exit %d, stderr %q", run.code, run.stderr)
	}
	t.Logf("roost cluster status:\n%s", run.stdout)
	want := []string{"as seen by n1", "NODE", "SHARDS", "STREAM", "LEADER", "FOLLOWERS", "leases: 64 of 64 shards owned by live nodes"}
	for _, n := range c.Nodes {
		want = append(want, "\n"+n.Name+" ")
	}
	for _, s := range streams {
		want = append(want, "\n"+s+" ")
	}
	for _, w := range want {
		if !strings.Contains(run.stdout, w) {
			t.Errorf("roost cluster status: no %q in its output", w)
		}
	}
	for line := range strings.Lines(run.stdout) {
		if strings.HasPrefix(line, "ROOST_LOG") || strings.HasPrefix(line, "KV_") || strings.HasPrefix(line, "OBJ_") {
			if !strings.HasSuffix(strings.TrimSpace(line), " ok") {
				t.Errorf("roost cluster status: a stream not ok: %q", line)
			}
		}
	}
}

// ownedBy returns the names of n objects of class at prefix-i whose GET
// answers (the owner's name) differ from each other.
func ownedBy(t *testing.T, c *cluster.Cluster, class, prefix string, n int) []string {
	t.Helper()
	var names []string
	seen := map[string]bool{}
	for i := 0; i < 200 && len(names) < n; i++ {
		name := objName(prefix, i)
		node := must(t, c.Client(), http.MethodGet, c.URL()+"/"+class+"/"+name, "")
		if !seen[node] {
			seen[node] = true
			names = append(names, name)
		}
	}
	if len(names) < n {
		t.Fatalf("found owners %v for 200 %s objects, want %d distinct", seen, class, n)
	}
	return names
}

func TestCluster_CallCycleAcrossNodes(t *testing.T) {
	c := start(t, 3)
	ab := ownedBy(t, c, "cyc", "cyc", 2)
	a, b := ab[0], ab[1]
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for _, u := range c.URLs() {
		status, body, err := do(ctx, c.Client(), http.MethodGet, u+"/cyc/"+a+"?path="+b, "")
		if err != nil || status != http.StatusOK {
			t.Fatalf("%s → %s through %s: status %d %q %v", a, b, u, status, body, err)
		}
		// a calls b (another node), which calls a back: a cycle.
		status, body, err = do(ctx, c.Client(), http.MethodGet, u+"/cyc/"+a+"?path="+b+","+a, "")
		if err != nil || status != http.StatusLoopDetected || !strings.Contains(body, "call_cycle") {
			t.Fatalf("%s → %s → %s through %s: status %d %q %v; want 508 call_cycle", a, b, a, u, status, body, err)
		}
		// A longer cycle that also goes through a third object.
		status, body, _ = do(ctx, c.Client(), http.MethodGet, u+"/cyc/"+a+"?path="+b+",x,"+b, "")
		if status != http.StatusLoopDetected || !strings.Contains(body, "call_cycle") {
			t.Fatalf("%s → %s → x → %s through %s: status %d %q; want 508 call_cycle", a, b, b, u, status, body)
		}
	}
}
