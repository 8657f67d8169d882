package crash

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/cluster"
)

// target is what a crash test loads, kills and restarts: one roost server,
// or a cluster of three nodes, every one of which is killed at once (the
// power loss of the whole cluster: JetStream fsyncs every write, so every
// acknowledged one must be there when the nodes come back).
type target interface {
	pick() *server        // where the next request goes
	kill(t testing.TB)    // SIGKILL every process and wait for it to die
	restart(t testing.TB) // start them again on their data, until they serve
	tail() string         // the latest output, for a failing test's message
}

// single is one roost server on a data directory.
type single struct {
	dir string
	srv *server
}

func newSingle(t testing.TB, dir string) *single { return &single{dir: dir, srv: startServer(t, dir)} }

func (s *single) pick() *server        { return s.srv }
func (s *single) kill(t testing.TB)    { s.srv.kill(t) }
func (s *single) restart(t testing.TB) { s.srv = startServer(t, s.dir) }
func (s *single) tail() string         { return s.srv.Tail() }

// cluster3 is three roost nodes at R3, reached at random.
type cluster3 struct {
	c     *cluster.Cluster
	nodes []*server
}

func newCluster3(t testing.TB) *cluster3 {
	c := cluster.Start(t, 3, nil)
	out := &cluster3{c: c}
	for _, n := range c.Nodes {
		out.nodes = append(out.nodes, &server{addr: n.Addr, client: &http.Client{Timeout: 10 * time.Second}})
	}
	out.waitServing(t)
	return out
}

func (c *cluster3) pick() *server { return c.nodes[rand.IntN(len(c.nodes))] }

func (c *cluster3) kill(t testing.TB) {
	var wg sync.WaitGroup
	for _, n := range c.c.Nodes {
		wg.Go(func() { n.Kill(t) })
	}
	wg.Wait()
}

// restart starts every node before waiting for any: a node serves only
// once a quorum of them runs.
func (c *cluster3) restart(t testing.TB) {
	for _, n := range c.c.Nodes {
		n.Start(t)
	}
	c.c.WaitReady(t)
	c.waitServing(t)
}

// waitServing waits until every shard has an owner, as every node sees it.
func (c *cluster3) waitServing(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(2 * listenTimeout)
	for _, n := range c.c.Nodes {
		for {
			body, err := status(n.URL)
			if err == nil && !strings.Contains(body, `"node":""`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: shards without an owner %v after a restart: %v %.300s\n%s", n.Name, 2*listenTimeout, err, body, c.tail())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func (c *cluster3) tail() string { return c.c.Logs() }

// status returns a node's placement as its admin API shows it.
func status(url string) (string, error) {
	resp, err := http.Get(url + "/_roost/cluster")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), err
}
