package cluster

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"

	"github.com/roost-dev/roost/test/internal/faultproxy"
)

// network is the plan of a cluster's addresses and the fault proxies on
// its links, made before any node starts, so that a restarted node keeps
// its addresses.
type network struct {
	http    []string              // node i's HTTP address, 127.0.0.1:PORT
	route   []string              // node i's route listen address, 127.0.0.(11+i):PORT
	routes  [][]*faultproxy.Proxy // routes[i][j] forwards node i's route connections to node j; nil for i == j
	inbound []*faultproxy.Proxy   // inbound[i] forwards other nodes' HTTP requests to node i
}

// routeHost returns the loopback address node i's routes listen on. Each
// node has its own: NATS gossips a peer's route address as the remote IP
// it sees (the proxies dial from 127.0.0.1) with the peer's real port, and
// nothing listens there, so gossip cannot open a link around the proxies.
func routeHost(i int) string { return "127.0.0." + strconv.Itoa(11+i) }

// newNetwork picks the ports of n nodes and starts the proxies between
// them; a cleanup closes the proxies.
func newNetwork(t testing.TB, n int) *network {
	t.Helper()
	nw := &network{routes: make([][]*faultproxy.Proxy, n)}
	t.Cleanup(nw.close)
	for i := range n {
		nw.http = append(nw.http, freeAddr(t, "127.0.0.1"))
		nw.route = append(nw.route, freeAddr(t, routeHost(i)))
	}
	for i := range n {
		nw.inbound = append(nw.inbound, newProxy(t, nw.http[i]))
		nw.routes[i] = make([]*faultproxy.Proxy, n)
		for j := range n {
			if i != j {
				nw.routes[i][j] = newProxy(t, nw.route[j])
			}
		}
	}
	return nw
}

// join returns node i's --join list: its proxies to every other node.
func (nw *network) join(i int) []string {
	var out []string
	for j, p := range nw.routes[i] {
		if j != i {
			out = append(out, p.Addr())
		}
	}
	return out
}

// links returns every proxy between i and j, both ways.
func (nw *network) links(i, j int) []*faultproxy.Proxy {
	return []*faultproxy.Proxy{nw.routes[i][j], nw.routes[j][i]}
}

// all returns every proxy of the network.
func (nw *network) all() []*faultproxy.Proxy {
	out := append([]*faultproxy.Proxy(nil), nw.inbound...)
	for i, row := range nw.routes {
		for j, p := range row {
			if i != j {
				out = append(out, p)
			}
		}
	}
	return out
}

func (nw *network) close() {
	for _, p := range nw.all() {
		if p != nil {
			p.Close()
		}
	}
}

// freeAddr returns host:PORT for a port that was free a moment ago, below
// the kernel's range of ephemeral ports (32768 and up on Linux by default):
// a node restarted on its port after a kill must find it free, and a port
// from that range may meanwhile be the local end of any outgoing
// connection on the machine.
func freeAddr(t testing.TB, host string) string {
	t.Helper()
	for range 100 {
		addr := net.JoinHostPort(host, strconv.Itoa(10000+rand.IntN(22000)))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatalf("no free port on %s between 10000 and 32000 in 100 tries", host)
	return ""
}

func newProxy(t testing.TB, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatal(fmt.Errorf("proxy to %s: %w", target, err))
	}
	return p
}
