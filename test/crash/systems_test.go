package crash

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/cluster"
)

// endpoint is where a test's requests go: one roost process, or any node
// of a cluster.
type endpoint interface {
	base() string             // the base URL of the next request, "http://host:port"
	httpClient() *http.Client // the client to send it with
	logs() string             // the latest output, for failure messages
}

// system is what a crash test runs against, through one body: a single
// roost process, or a cluster of three, each node its own process.
type system interface {
	endpoint
	// aim picks what round's crash will kill, before the round's load
	// starts (the load avoids a node it will kill alone).
	aim(round int)
	// crash SIGKILLs the processes of round's crash and waits for them.
	crash(t testing.TB, round int)
	// serving reports whether requests still reach a live node after a
	// crash (only one node was killed): the load then runs on.
	serving() bool
	// recover restarts what crash killed on the same data and addresses and
	// waits until it is ready.
	recover(t testing.TB)
	// stop SIGTERMs every process and requires a clean exit.
	stop(t testing.TB)
	// dirs returns every process's data directory.
	dirs() []string
}

// mode is one way of running a crash test.
type mode struct {
	name  string
	start func(t *testing.T) system
}

// modes returns the modes the crash suites run in: one process, as in
// single-node mode, and a 3-node cluster, every node killed at once (a
// power loss) or one node at a time under load through the other two.
func modes(single func(t *testing.T) system) []mode {
	return []mode{
		{"single", single},
		{"cluster3_kill_all", func(t *testing.T) system { return startCluster3(t, false) }},
		{"cluster3_kill_one", func(t *testing.T) system { return startCluster3(t, true) }},
	}
}

// clusterLease is the nodes' --lease: a killed node's shards serve again
// elsewhere after about this long.
const clusterLease = 2 * time.Second

// afterKill is how long the load runs on after one node of a cluster was
// killed: past the failover of its shards (about one lease).
const afterKill = 2*clusterLease + time.Second

// cluster3 is three roost nodes started by the cluster harness.
type cluster3 struct {
	c       *cluster.Cluster
	killOne bool         // crash kills one node (round's victim), not all three
	victim  atomic.Int64 // 1 + the index of the node killed this round; 0: none
	next    atomic.Uint64
}

// startCluster3 starts a 3-node cluster of opts' binary (roost when Bin is
// empty) and waits until every node is ready.
func startCluster3(t *testing.T, killOne bool, args ...string) *cluster3 {
	t.Helper()
	return startCluster3With(t, killOne, &cluster.Options{Lease: clusterLease, Args: args})
}

func startCluster3With(t *testing.T, killOne bool, opts *cluster.Options) *cluster3 {
	t.Helper()
	return &cluster3{c: cluster.Start(t, 3, opts), killOne: killOne}
}

// base round-robins over the nodes, leaving out the node this round kills
// when only one is killed: the load runs through the other two.
func (s *cluster3) base() string {
	skip := int(s.victim.Load()) - 1
	for {
		i := int(s.next.Add(1) % uint64(len(s.c.Nodes)))
		if i != skip {
			return s.c.Nodes[i].URL
		}
	}
}

func (s *cluster3) httpClient() *http.Client { return s.c.Client() }
func (s *cluster3) logs() string             { return s.c.Logs() }
func (s *cluster3) serving() bool            { return s.killOne }

func (s *cluster3) crash(t testing.TB, round int) {
	t.Helper()
	if s.killOne {
		s.c.Nodes[int(s.victim.Load())-1].Kill(t)
		return
	}
	for _, n := range s.c.Nodes {
		n.Kill(t)
	}
}

func (s *cluster3) recover(t testing.TB) {
	t.Helper()
	for _, n := range s.c.Nodes {
		if !n.Running() {
			n.Start(t)
		}
	}
	s.c.WaitReady(t)
}

// aim sets round's victim (kill-one mode), before the round's load starts.
func (s *cluster3) aim(round int) {
	if s.killOne {
		s.victim.Store(int64(round%len(s.c.Nodes)) + 1)
	}
}

func (s *cluster3) stop(t testing.TB) {
	t.Helper()
	s.victim.Store(0)
	s.c.Client().CloseIdleConnections()
	// One after the other: the last one, alone, has no quorum left to hand
	// its shards over or leave with, and must still exit 0.
	for _, n := range s.c.Nodes {
		n.Term(t)
	}
}

func (s *cluster3) dirs() []string {
	out := make([]string, 0, len(s.c.Nodes))
	for _, n := range s.c.Nodes {
		out = append(out, n.Dir)
	}
	return out
}

func (s *cluster3) String() string {
	if s.killOne {
		return "3 nodes, kill -9 of one node per round (n1, n2, n3 in turn)"
	}
	return "3 nodes, kill -9 of all three per round"
}

// single is one roost process on one data directory.
type single struct {
	*server
	dir   string
	start func(t testing.TB, dir string) *server
}

func newSingle(t *testing.T, start func(t testing.TB, dir string) *server) *single {
	t.Helper()
	s := &single{dir: t.TempDir(), start: start}
	s.server = start(t, s.dir)
	return s
}

func (s *single) crash(t testing.TB, _ int) { t.Helper(); s.kill(t) }
func (s *single) aim(int)                   {}
func (s *single) serving() bool             { return false }
func (s *single) recover(t testing.TB)      { t.Helper(); s.server = s.start(t, s.dir) }
func (s *single) stop(t testing.TB)         { t.Helper(); s.term(t) }
func (s *single) dirs() []string            { return []string{s.dir} }

func (s *single) String() string { return "1 process, kill -9 per round" }
