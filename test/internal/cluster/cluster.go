// Package cluster starts N real roost processes on loopback as one
// cluster, each with its embedded NATS server, and injects the faults of
// issue 13's tests: kill -9, SIGSTOP/SIGCONT, restarts on the same data
// directory and ports, and partitions.
//
// Every link between two nodes goes through a fault proxy
// (test/internal/faultproxy): node i's --join entry for node j is the
// address of proxy i→j, which forwards to node j's route port. Partition,
// Isolate and OneWay act on those proxies. Each node's route port listens
// on a loopback address of its own (127.0.0.11, .12, …), so that NATS's
// route gossip cannot connect two nodes around the proxies (see
// routeHost). Requests that nodes forward to each other go to the
// --advertise address, node i's inbound proxy, which Isolate cuts too.
//
// Ports are chosen before the first start and kept: a restarted node
// serves on the same HTTP address.
package cluster

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/proc"
)

// DefaultReadyPaths are the paths WaitReady requires to answer 200 on every
// node.
var DefaultReadyPaths = []string{"/metrics", "/_roost/cluster"}

// Options configures a cluster. The zero value is the default.
type Options struct {
	// Lease is each node's --lease. Defaults to 2s.
	Lease time.Duration
	// Args are extra flags for every node, after the cluster flags.
	Args []string
	// Env holds KEY=value pairs added to every node's environment.
	Env []string
	// Bin is the binary to run. Defaults to roost built from ./cmd/roost.
	Bin string
	// NodeArgs, when set, returns the whole argument list of a node in
	// place of the default one (see Node.DefaultArgs).
	NodeArgs func(n *Node) []string
	// ReadyPaths must each answer 200 on every node for WaitReady.
	// Defaults to DefaultReadyPaths.
	ReadyPaths []string
	// ReadyTimeout bounds WaitReady. Defaults to proc.ListenTimeout.
	ReadyTimeout time.Duration
}

// Cluster is a set of roost processes started by Start.
type Cluster struct {
	Nodes []*Node
	opts  Options
	net   *network
	next  atomic.Uint64 // round-robin position of URL
	http  *http.Client
}

// Start starts n nodes and waits until every one is ready (WaitReady).
// Every process, proxy and connection is closed by t.Cleanup.
func Start(t testing.TB, n int, opts *Options) *Cluster {
	t.Helper()
	c := New(t, n, opts)
	for _, node := range c.Nodes {
		node.Start(t)
	}
	c.WaitReady(t)
	return c
}

// New plans a cluster of n nodes and starts its proxies, but no node: call
// Node.Start on each (a test of a cluster's first start may want them in
// an order of its own).
func New(t testing.TB, n int, opts *Options) *Cluster {
	t.Helper()
	c := &Cluster{net: newNetwork(t, n), http: newClient()}
	if opts != nil {
		c.opts = *opts
	}
	c.fillDefaults(t)
	t.Cleanup(c.http.CloseIdleConnections)
	for i := range n {
		c.Nodes = append(c.Nodes, newNode(t, c, i))
	}
	// After the nodes' directories (removed after it), before their
	// processes (killed before it).
	t.Cleanup(func() { c.keepLogs(t) })
	return c
}

func (c *Cluster) fillDefaults(t testing.TB) {
	if c.opts.Lease == 0 {
		c.opts.Lease = 2 * time.Second
	}
	if c.opts.Bin == "" {
		c.opts.Bin = proc.Roost(t)
	}
	if c.opts.ReadyPaths == nil {
		c.opts.ReadyPaths = DefaultReadyPaths
	}
	if c.opts.ReadyTimeout == 0 {
		c.opts.ReadyTimeout = proc.ListenTimeout
	}
}

// WaitReady waits until every running node answers 200 on each of the
// ready paths, failing the test after ReadyTimeout or when a node exits.
func (c *Cluster) WaitReady(t testing.TB) {
	t.Helper()
	for _, n := range c.Nodes {
		if n.Running() {
			n.WaitReady(t)
		}
	}
}

// Partition cuts the links between nodes i and j, both ways. Requests
// forwarded between them are not cut (see Isolate).
func (c *Cluster) Partition(i, j int) {
	for _, p := range c.net.links(i, j) {
		p.Cut()
	}
}

// Isolate cuts node i from every other node: its route links both ways,
// and the requests other nodes forward to it.
func (c *Cluster) Isolate(i int) {
	for j := range c.Nodes {
		if j != i {
			c.Partition(i, j)
		}
	}
	c.net.inbound[i].Cut()
}

// OneWay loses every byte node from sends to node to, on both of their
// route links, while the connections stay open and the other direction
// flows.
func (c *Cluster) OneWay(from, to int) {
	c.net.routes[from][to].DropAtoB(true) // from dialed to
	c.net.routes[to][from].DropBtoA(true) // to dialed from
}

// Delay holds the bytes of every link between nodes for d (0 lifts it).
func (c *Cluster) Delay(d time.Duration) {
	for _, p := range c.net.all() {
		p.Delay(d)
	}
}

// Heal lifts every fault on every link: cut links accept new connections
// again (the nodes reconnect by themselves), nothing is dropped or
// delayed.
func (c *Cluster) Heal() {
	for _, p := range c.net.all() {
		p.Heal()
	}
}

// Logs returns the latest output of every node, headed by its name, for
// failure messages.
func (c *Cluster) Logs() string {
	var b strings.Builder
	for _, n := range c.Nodes {
		b.WriteString("--- " + n.Name + " (" + n.URL + ") ---\n" + n.Logs())
	}
	return b.String()
}

// Client returns an HTTP client with timeouts (2 s to connect, 10 s per
// request) and enough idle connections for concurrent clients. It is
// shared by the cluster's tests; its idle connections close at cleanup.
func (c *Cluster) Client() *http.Client { return c.http }

// URL returns the base URL of the next node in round-robin order, running
// or not: a test's requests spread over all nodes.
func (c *Cluster) URL() string {
	i := c.next.Add(1) - 1
	return c.Nodes[i%uint64(len(c.Nodes))].URL
}

// URLs returns every node's base URL, in node order.
func (c *Cluster) URLs() []string {
	out := make([]string, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		out = append(out, n.URL)
	}
	return out
}
