package crash

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/cluster"
	"github.com/roost-dev/roost/test/internal/proc"
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
	// endpoint returns where requests go until the next crash: the current
	// process, or the cluster (whose nodes keep their addresses).
	endpoint() endpoint
	// processes returns the running processes.
	processes(t testing.TB) []*proc.Process
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

// binMode is one way of running a crash test on a server of its own
// (timerd, flowd): start starts the system with args added to every
// process's flags.
type binMode struct {
	name  string
	start func(t *testing.T, args ...string) system
}

// binModes returns the modes of modes for the binary bin, which takes the
// flags of `roost serve` that the tests pass (--addr, --data, and the
// cluster flags).
func binModes(bin string) []binMode {
	cluster3 := func(killOne bool) func(t *testing.T, args ...string) system {
		return func(t *testing.T, args ...string) system {
			return startCluster3With(t, killOne, &cluster.Options{Bin: bin, Lease: clusterLease, Args: args})
		}
	}
	return []binMode{
		{"single", func(t *testing.T, args ...string) system {
			return newSingle(t, func(t testing.TB, dir string) *server {
				return startServerWith(t, spec(bin, append([]string{"--addr", "127.0.0.1:0", "--data", dir}, args...)...))
			})
		}},
		{"cluster3_kill_all", cluster3(false)},
		{"cluster3_kill_one", cluster3(true)},
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

func (s *cluster3) endpoint() endpoint { return s }

func (s *cluster3) processes(t testing.TB) []*proc.Process {
	var out []*proc.Process
	for _, n := range s.c.Nodes {
		if n.Running() {
			out = append(out, n.Process(t))
		}
	}
	return out
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
func (s *single) endpoint() endpoint        { return s.server }

func (s *single) processes(testing.TB) []*proc.Process { return []*proc.Process{s.server.Process} }

func (s *single) String() string { return "1 process, kill -9 per round" }

// supervisor kills and restarts a system at the test's moments while
// clients keep sending to it, and tells the clients whether a failed
// request may be the crash's doing.
type supervisor struct {
	sys system
	// grace: a request that fails within grace after a restart ended is
	// excused too (a cluster's shards move back to a restarted node, and a
	// killed node's shards fail over, within a few leases).
	grace time.Duration
	// clustered: the system is a cluster, whose 503 answers (not_owner:
	// nothing was applied; no_quorum: unknown) say "send again" at any time.
	clustered bool

	mu         sync.Mutex // guards the fields below
	ep         endpoint
	epoch      int  // restarts begun
	restarting bool // one is in progress
	recovered  time.Time
	restarted  chan struct{} // closed when the restart in progress ends
	procs      []*proc.Process
}

// newSupervisor watches sys, which runs; a cluster's failed requests get
// afterKill of grace.
func newSupervisor(t testing.TB, sys system) *supervisor {
	s := &supervisor{sys: sys, ep: sys.endpoint(), restarted: make(chan struct{}), procs: sys.processes(t)}
	if _, ok := sys.(*cluster3); ok {
		s.grace, s.clustered = afterKill, true
	}
	return s
}

// resend reports whether an answer with status to a request sent when
// epoch restarts had begun is to be sent again (its outcome unknown), not
// counted as a failure: a cluster's 503, or any 503 a crash may explain.
func (s *supervisor) resend(status, epoch int) bool {
	return status == http.StatusServiceUnavailable && (s.clustered || s.excused(epoch))
}

// restart crashes the system (kill -9 of what its mode kills) and brings it
// back on the same data.
func (s *supervisor) restart(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	s.epoch++
	round := s.epoch
	s.restarting = true
	s.mu.Unlock()
	s.sys.aim(round)
	s.sys.crash(t, round)
	s.sys.recover(t)
	procs := s.sys.processes(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range procs {
		if !slices.Contains(s.procs, p) {
			s.procs = append(s.procs, p)
		}
	}
	s.ep, s.restarting, s.recovered = s.sys.endpoint(), false, time.Now()
	close(s.restarted)
	s.restarted = make(chan struct{})
}

// current returns where requests go now.
func (s *supervisor) current() endpoint {
	ep, _, _ := s.currentAndNext()
	return ep
}

// currentAndNext returns where requests go now, the number of restarts
// begun so far (for excused) and a channel closed when the next restart
// ends.
func (s *supervisor) currentAndNext() (endpoint, int, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ep, s.epoch, s.restarted
}

// excused reports whether a request sent when epoch restarts had begun may
// have failed because of a crash: one began since, one is in progress, or
// the last one ended less than the grace ago.
func (s *supervisor) excused(epoch int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch != epoch || s.restarting || time.Since(s.recovered) < s.grace
}

// all returns every process started so far, in order.
func (s *supervisor) all() []*proc.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.procs)
}

// logs returns the output of every process started, in order.
func (s *supervisor) logs() string {
	var b strings.Builder
	for i, p := range s.all() {
		fmt.Fprintf(&b, "--- process %d (%s, pid %d) ---\n%s", i+1, p, p.PID(), p.Output())
	}
	return b.String()
}
