package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// single runs each node as a single-node roost on the node's own address
// and data directory: the process side of the harness, without the
// cluster flags.
func single(n *Node) []string { return []string{"serve", "--addr", n.Addr, "--data", n.Dir} }

func TestCluster_NodesKeepTheirAddressAndDataAcrossRestarts(t *testing.T) {
	t.Parallel()
	c := Start(t, 2, &Options{NodeArgs: single, ReadyPaths: []string{"/metrics"}})
	n := c.Nodes[0]
	if v := counter(t, c, n.URL, http.MethodPost, "/counter/a/increment"); v != 1 {
		t.Fatalf("first increment = %d", v)
	}
	n.Kill(t)
	if n.Running() {
		t.Fatal("Running() after Kill")
	}
	n.Restart(t)
	if v := counter(t, c, n.URL, http.MethodGet, "/counter/a"); v != 1 {
		t.Fatalf("after a restart on the same address and data, the counter is %d, want 1", v)
	}
	if got := strings.Count(readFile(t, n.LogFile), "msg=listening"); got != 2 {
		t.Errorf("the node's log holds %d listening lines, want one per run (2)", got)
	}
}

func TestCluster_StoppedNodeAnswersAfterCont(t *testing.T) {
	t.Parallel()
	c := Start(t, 2, &Options{NodeArgs: single, ReadyPaths: []string{"/metrics"}})
	n := c.Nodes[1]
	n.Stop(t)
	quick := &http.Client{Timeout: 300 * time.Millisecond}
	defer quick.CloseIdleConnections()
	if resp, err := quick.Get(n.URL + "/metrics"); err == nil {
		resp.Body.Close()
		t.Fatalf("a stopped node answered %d", resp.StatusCode)
	}
	n.Cont(t)
	c.WaitReady(t)
	n.Term(t)
}

func TestCluster_URLGoesRoundRobin(t *testing.T) {
	t.Parallel()
	c := New(t, 3, &Options{Bin: "/bin/true"})
	var got []string
	for range 6 {
		got = append(got, c.URL())
	}
	urls := c.URLs()
	if want := append(slices.Clone(urls), urls...); !slices.Equal(got, want) {
		t.Fatalf("URL() gave %v, want %v", got, want)
	}
}

func TestNode_DefaultArgsCarryTheClusterFlags(t *testing.T) {
	t.Parallel()
	c := New(t, 3, &Options{Bin: "/bin/true", Lease: 3 * time.Second, Args: []string{"--log-level", "debug"}})
	n := c.Nodes[1]
	got := strings.Join(n.DefaultArgs(), " ")
	want := "serve --addr " + n.Addr + " --data " + n.Dir + " --node n2 --cluster " + n.ClusterAddr +
		" --join " + c.net.routes[1][0].Addr() + "," + c.net.routes[1][2].Addr() +
		" --advertise " + c.net.inbound[1].Addr() + " --lease 3s --log-level debug"
	if got != want {
		t.Errorf("DefaultArgs:\n got %s\nwant %s", got, want)
	}
	if c.net.inbound[1].Target() != n.Addr {
		t.Errorf("the advertised proxy forwards to %s, want the node's HTTP address %s", c.net.inbound[1].Target(), n.Addr)
	}
}

// counter sends a request for a counter and returns its value.
func counter(t *testing.T, c *Cluster, base, method, path string) int64 {
	t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", method, path, err, c.Logs())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var v struct{ Value int64 }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &v) != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, body)
	}
	return v.Value
}

// failing reports the test as failed, to observe what the harness does
// then; it records what is logged.
type failing struct {
	testing.TB
	logs []string
}

func (f *failing) Failed() bool { return true }
func (f *failing) Logf(format string, args ...any) {
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

func TestCluster_KeepsTheNodesLogsOfAFailedTest(t *testing.T) {
	t.Parallel()
	f := &failing{}
	t.Run("fails", func(t *testing.T) {
		f.TB = t
		c := Start(f, 1, &Options{NodeArgs: single, ReadyPaths: []string{"/metrics"}})
		c.Nodes[0].Kill(t)
	})
	var dir string
	for _, l := range f.logs {
		if d, ok := strings.CutPrefix(l, "the nodes' logs are in "); ok {
			dir = d
		}
	}
	if dir == "" {
		t.Fatalf("no kept logs named in %q", f.logs)
	}
	defer os.RemoveAll(dir)
	if log := readFile(t, filepath.Join(dir, "n1.log")); !strings.Contains(log, "msg=listening") {
		t.Errorf("the kept log of n1 misses its listening line:\n%s", log)
	}
}
