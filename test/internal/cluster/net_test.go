package cluster

import (
	"bufio"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/proc"
)

func TestMain(m *testing.M) { os.Exit(proc.Main(m)) }

// wait bounds the waits of these tests for what must happen.
const wait = 10 * time.Second

// peer stands where a node's route port would be: it greets every
// connection with its index and reports the lines it receives.
type peer struct {
	ln    net.Listener
	lines chan string
}

// listenPeers starts a peer on every node's route address.
func listenPeers(t *testing.T, nw *network) []*peer {
	t.Helper()
	var wg sync.WaitGroup
	var conns sync.Map
	peers := make([]*peer, len(nw.route))
	for i, addr := range nw.route {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		p := &peer{ln: ln, lines: make(chan string, 64)}
		peers[i] = p
		wg.Go(func() { p.serve(&wg, &conns, i) })
	}
	t.Cleanup(func() {
		for _, p := range peers {
			p.ln.Close()
		}
		conns.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
		wg.Wait()
	})
	return peers
}

func (p *peer) serve(wg *sync.WaitGroup, conns *sync.Map, i int) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		conns.Store(c, nil)
		wg.Go(func() {
			io.WriteString(c, strconv.Itoa(i)+"\n")
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				p.lines <- sc.Text()
			}
		})
	}
}

// link dials node i's join entry for node j.
func link(t *testing.T, nw *network, i, j int) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", nw.routes[i][j].Addr(), wait)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(wait))
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// reaches requires that node i's link to j leads to j, both ways.
func reaches(t *testing.T, nw *network, peers []*peer, i, j int) {
	t.Helper()
	c, r := link(t, nw, i, j)
	if got, err := r.ReadString('\n'); err != nil || got != strconv.Itoa(j)+"\n" {
		t.Fatalf("link %d→%d greeted %q (%v), want node %d", i, j, got, err, j)
	}
	msg := "from " + strconv.Itoa(i)
	io.WriteString(c, msg+"\n")
	select {
	case got := <-peers[j].lines:
		if got != msg {
			t.Fatalf("node %d received %q, want %q", j, got, msg)
		}
	case <-time.After(wait):
		t.Fatalf("node %d received nothing over link %d→%d", j, i, j)
	}
}

// cutOff requires that node i's link to j refuses connections.
func cutOff(t *testing.T, nw *network, i, j int) {
	t.Helper()
	c, err := net.DialTimeout("tcp", nw.routes[i][j].Addr(), wait)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	if n, err := io.Copy(io.Discard, c); n > 0 || err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("link %d→%d is open (%d bytes, %v), want it cut", i, j, n, err)
	}
}

func TestNetwork_EveryJoinEntryLeadsToItsNodeThroughAProxy(t *testing.T) {
	t.Parallel()
	nw := newNetwork(t, 3)
	peers := listenPeers(t, nw)
	for i := range 3 {
		join := nw.join(i)
		if len(join) != 2 {
			t.Fatalf("node %d joins %v, want its 2 peers", i, join)
		}
		for _, j := range []int{(i + 1) % 3, (i + 2) % 3} {
			if !strings.Contains(strings.Join(join, ","), nw.routes[i][j].Addr()) {
				t.Errorf("node %d's --join %v misses its proxy to node %d", i, join, j)
			}
			reaches(t, nw, peers, i, j)
		}
	}
}

// NATS gossips a peer's route address as 127.0.0.1 (where the proxies dial
// from) with the peer's real port: nothing may listen there.
func TestNetwork_RoutePortsAreNotOnTheProxiesAddress(t *testing.T) {
	t.Parallel()
	nw := newNetwork(t, 3)
	listenPeers(t, nw)
	for i, addr := range nw.route {
		_, port, _ := net.SplitHostPort(addr)
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, wait)
		if err != nil {
			continue
		}
		// Something answers there: another test's listener on 127.0.0.1
		// may have the same port. Ours greets with its node's index.
		c.SetDeadline(time.Now().Add(wait))
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if line == strconv.Itoa(i)+"\n" {
			t.Errorf("node %d's route port %s answers on 127.0.0.1: gossip could bypass the proxies", i, port)
		}
	}
}

func TestNetwork_PartitionIsolateOneWayHeal(t *testing.T) {
	t.Parallel()
	nw := newNetwork(t, 3)
	peers := listenPeers(t, nw)
	c := &Cluster{net: nw, Nodes: make([]*Node, 3)}

	c.Partition(0, 1)
	cutOff(t, nw, 0, 1)
	cutOff(t, nw, 1, 0)
	reaches(t, nw, peers, 0, 2)
	reaches(t, nw, peers, 2, 1)
	c.Heal()
	reaches(t, nw, peers, 0, 1)

	c.Isolate(2)
	for _, l := range [][2]int{{0, 2}, {2, 0}, {1, 2}, {2, 1}} {
		cutOff(t, nw, l[0], l[1])
	}
	reaches(t, nw, peers, 1, 0)
	if conn, err := net.DialTimeout("tcp", nw.inbound[2].Addr(), wait); err == nil {
		conn.SetDeadline(time.Now().Add(wait))
		if n, _ := io.Copy(io.Discard, conn); n > 0 {
			t.Error("node 2's inbound proxy is open after Isolate")
		}
		conn.Close()
	}
	c.Heal()

	c.OneWay(0, 1)
	testOneWay(t, nw, peers)
}

// testOneWay checks OneWay(0, 1): what 0 sends to 1 is lost on both links,
// what 1 sends to 0 arrives.
func testOneWay(t *testing.T, nw *network, peers []*peer) {
	t.Helper()
	a, r := link(t, nw, 0, 1) // 0 dialed 1
	if got, err := r.ReadString('\n'); err != nil || got != "1\n" {
		t.Fatalf("1's greeting to 0: %q, %v", got, err)
	}
	io.WriteString(a, "lost\n")
	b, _ := link(t, nw, 1, 0) // 1 dialed 0: 0's greeting is lost
	io.WriteString(b, "kept\n")
	if got := <-peers[0].lines; got != "kept" {
		t.Fatalf("node 0 received %q, want kept", got)
	}
	deadline := time.Now().Add(wait)
	for {
		x, _ := nw.routes[0][1].Dropped()
		_, y := nw.routes[1][0].Dropped()
		if x == int64(len("lost\n")) && y == int64(len("0\n")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dropped %d and %d bytes, want 0's message and greeting", x, y)
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case got := <-peers[1].lines:
		t.Fatalf("node 1 received %q from node 0 despite OneWay(0, 1)", got)
	default:
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
