package cluster

import (
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/proc"
)

// Node is one roost process of a cluster, started, killed and restarted
// on the same data directory and addresses.
type Node struct {
	Index       int    // position in Cluster.Nodes
	Name        string // --node: n1, n2, …
	Addr        string // HTTP address, 127.0.0.1:PORT, fixed for the cluster's life
	URL         string // "http://" + Addr
	ClusterAddr string // --cluster: the route listen address of its NATS server
	Advertise   string // --advertise: its inbound proxy, where others forward requests
	Dir         string // --data
	LogFile     string // every run's output, appended

	c  *Cluster
	mu sync.Mutex    // guards p
	p  *proc.Process // the latest run; nil before the first
}

func newNode(t testing.TB, c *Cluster, i int) *Node {
	dir := t.TempDir()
	n := &Node{
		Index: i, Name: "n" + strconv.Itoa(i+1), Addr: c.net.http[i],
		ClusterAddr: c.net.route[i], Advertise: c.net.inbound[i].Addr(),
		Dir: filepath.Join(dir, "data"), LogFile: filepath.Join(dir, "node.log"), c: c,
	}
	n.URL = "http://" + n.Addr
	return n
}

// DefaultArgs returns the node's flags: serve on its HTTP address and data
// directory, with its name, route address, peers (through the proxies),
// advertised address and lease, then Options.Args.
func (n *Node) DefaultArgs() []string {
	args := []string{"serve", "--addr", n.Addr, "--data", n.Dir, "--node", n.Name,
		"--cluster", n.ClusterAddr, "--join", strings.Join(n.c.net.join(n.Index), ","),
		"--advertise", n.Advertise, "--lease", n.c.opts.Lease.String()}
	return append(args, n.c.opts.Args...)
}

// Start starts the node's process, failing the test if the node already
// runs. It does not wait for readiness (see WaitReady). The process is
// killed when t ends: pass the test that owns the cluster, not a subtest.
func (n *Node) Start(t testing.TB) {
	t.Helper()
	if n.Running() {
		t.Fatalf("start %s: it already runs", n.Name)
	}
	args := n.DefaultArgs()
	if n.c.opts.NodeArgs != nil {
		args = n.c.opts.NodeArgs(n)
	}
	p := proc.Spawn(t, proc.Spec{Path: n.c.opts.Bin, Args: args, Env: n.c.opts.Env, LogFile: n.LogFile})
	n.mu.Lock()
	n.p = p
	n.mu.Unlock()
}

// Restart starts the node again on the same data directory and addresses
// and waits until it is ready. A node still running is killed (SIGKILL)
// first.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	if n.Running() {
		n.Kill(t)
	}
	n.Start(t)
	n.WaitReady(t)
}

// WaitReady waits until the node answers 200 on each ready path.
func (n *Node) WaitReady(t testing.TB) {
	t.Helper()
	p := n.proc(t)
	for _, path := range n.c.opts.ReadyPaths {
		proc.WaitHTTP(t, n.URL+path, n.c.opts.ReadyTimeout, p.Exited(), p.Tail)
	}
}

// Kill SIGKILLs the node and waits for it to die.
func (n *Node) Kill(t testing.TB) { t.Helper(); n.proc(t).Kill(t) }

// Stop pauses the node with SIGSTOP; its sockets stay open and silent.
func (n *Node) Stop(t testing.TB) { t.Helper(); n.proc(t).Stop(t) }

// Cont resumes a node paused by Stop.
func (n *Node) Cont(t testing.TB) { t.Helper(); n.proc(t).Cont(t) }

// Term stops the node with SIGTERM and requires a clean exit.
func (n *Node) Term(t testing.TB) { t.Helper(); n.proc(t).Term(t) }

// Running reports whether the node's latest process has not exited.
func (n *Node) Running() bool {
	n.mu.Lock()
	p := n.p
	n.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.Exited():
		return false
	default:
		return true
	}
}

// Process returns the node's latest process, failing the test before the
// first start.
func (n *Node) Process(t testing.TB) *proc.Process { t.Helper(); return n.proc(t) }

// Logs returns the latest output of the node's latest run.
func (n *Node) Logs() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p == nil {
		return "(not started)\n"
	}
	return n.p.Tail()
}

func (n *Node) proc(t testing.TB) *proc.Process {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.p == nil {
		t.Fatalf("%s was never started", n.Name)
	}
	return n.p
}

// newClient returns the cluster's HTTP client (see Cluster.Client).
func newClient() *http.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}
