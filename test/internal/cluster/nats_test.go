package cluster

import (
	"net"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// runRouted starts an embedded NATS server as node i of nw would: its
// routes listen on the node's route address and go to its peers through
// the proxies. It is shut down at cleanup.
func runRouted(t *testing.T, nw *network, i int) *server.Server {
	t.Helper()
	host, port, _ := net.SplitHostPort(nw.route[i])
	opts := &server.Options{
		ServerName: "n" + string(rune('1'+i)), Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		Cluster: server.ClusterOpts{Name: "harness", Host: host, Port: atoi(t, port)},
	}
	for _, addr := range nw.join(i) {
		opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", Host: addr})
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(wait) {
		t.Fatalf("nats-server %d not ready", i)
	}
	return ns
}

// peers returns the names of the servers ns has a route to, sorted.
func peers(t *testing.T, ns *server.Server) []string {
	t.Helper()
	rz, err := ns.Routez(nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rz.Routes {
		if !slices.Contains(out, r.RemoteName) {
			out = append(out, r.RemoteName)
		}
	}
	slices.Sort(out)
	return out
}

// awaitPeers polls until ns has routes to exactly want.
func awaitPeers(t *testing.T, ns *server.Server, want ...string) {
	t.Helper()
	deadline := time.Now().Add(3 * wait)
	for !slices.Equal(peers(t, ns), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s routes to %v, want %v", ns.Name(), peers(t, ns), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// trap listens where NATS gossip would send a node's peers (127.0.0.1 and
// the node's route port) and counts the connections that arrive.
func trap(t *testing.T, addr string) *atomic.Int64 {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("trap on 127.0.0.1:%s: %v", port, err)
	}
	var hits atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return &hits
}

// Real NATS routes through the proxies: the mesh forms, Isolate and
// Partition split it, Heal joins it again, and the route gossip that a
// restart sets off goes to 127.0.0.1 (where nothing of the cluster listens:
// here a trap counts it), never around a cut link.
func TestNetwork_NATSRoutesGoOnlyThroughTheProxies(t *testing.T) {
	t.Parallel()
	nw := newNetwork(t, 3)
	c := &Cluster{net: nw, Nodes: make([]*Node, 3)}
	hits := trap(t, nw.route[0])
	ns := []*server.Server{runRouted(t, nw, 0), runRouted(t, nw, 1), runRouted(t, nw, 2)}
	awaitPeers(t, ns[0], "n2", "n3")
	awaitPeers(t, ns[1], "n1", "n3")

	c.Isolate(2)
	awaitPeers(t, ns[0], "n2")
	awaitPeers(t, ns[2])
	c.Heal()
	awaitPeers(t, ns[2], "n1", "n2")

	c.Partition(0, 1)
	awaitPeers(t, ns[1], "n3")
	ns[0].Shutdown() // n1 restarts: n3 gossips it to n2, which may not reach it
	ns[0].WaitForShutdown()
	ns[0] = runRouted(t, nw, 0)
	awaitPeers(t, ns[0], "n3")
	deadline := time.Now().Add(3 * wait)
	for hits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if hits.Load() == 0 {
		t.Fatal("n2 was never told of the restarted n1: the test checked no gossip")
	}
	t.Logf("gossiped connection attempts at 127.0.0.1: %d", hits.Load())
	if got := peers(t, ns[1]); slices.Contains(got, "n1") {
		t.Fatalf("n2 routes to %v across the partition", got)
	}
	c.Heal()
	awaitPeers(t, ns[1], "n1", "n3")
}
