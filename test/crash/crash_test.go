// Package crash runs the built roost binary as a subprocess, kills it with
// SIGKILL at random moments under load, restarts it on the same data
// directory and checks that no acknowledged write was lost, that no counter
// went backwards and that every SQLite file passes PRAGMA integrity_check.
package crash

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/test/internal/proc"
)

const (
	listenTimeout = proc.ListenTimeout // longest wait for the "listening" line
	exitTimeout   = proc.ExitTimeout   // longest wait for the process to exit after a signal
)

// TestMain builds roost (and the test servers) once, on first use, and
// fails the package on a leaked goroutine.
func TestMain(m *testing.M) { os.Exit(proc.Main(m)) }

func TestCrash_CountersSurviveKill9(t *testing.T) {
	// Not parallel with the other kill tests: their clusters would share
	// two cores, and leases that lapse for want of CPU move shards around
	// more than the kills do.
	sqlite := requireSQLite3(t)
	plans := map[string]countersPlan{
		"single":            {rounds: 8, counters: 50, workers: 16},
		"cluster3_kill_all": {rounds: 3, counters: 24, workers: 12},
		"cluster3_kill_one": {rounds: 3, counters: 24, workers: 12},
	}
	for _, m := range modes(func(t *testing.T) system { return newSingle(t, startServer) }) {
		t.Run(m.name, func(t *testing.T) { countersSurviveKill9(t, m.start(t), plans[m.name], sqlite) })
	}
}

// countersPlan sizes one run of countersSurviveKill9.
type countersPlan struct{ rounds, counters, workers int }

// countersSurviveKill9 increments counters under load, kills (kill -9) the
// system at a random moment of each round, restarts it and checks that no
// acknowledged increment was lost and no counter went backwards; at the
// end, that every SQLite file passes PRAGMA integrity_check.
func countersSurviveKill9(t *testing.T, sys system, p countersPlan, sqlite string) {
	names := make([]string, p.counters)
	for i := range names {
		names[i] = "c" + strconv.Itoa(i)
	}
	ledgers := make([]ledger, p.counters)
	seen := make([]int64, p.counters) // value each counter had at the previous check

	var acked, unacked, lost int64
	for round := 1; round <= p.rounds; round++ {
		sys.aim(round)
		delay := 200*time.Millisecond + rand.N(1300*time.Millisecond)
		a, u := loadUntilKill(t, sys, names, ledgers, p.workers, delay, round)
		acked += a
		unacked += u
		sys.recover(t)
		lost += checkCounters(t, sys, names, ledgers, seen, round)
		t.Logf("round %d: killed after %v; %d acknowledged, %d of unknown outcome", round, delay.Round(time.Millisecond), a, u)
	}
	sys.stop(t)
	_, isSingle := sys.(*single)
	checked := 0
	for _, dir := range sys.dirs() {
		if isSingle {
			checked += checkFiles(t, sqlite, dir, names, seen)
		} else {
			checked += checkFiles(t, sqlite, dir, names, nil) // a node's file is a cache of the log
		}
	}
	t.Logf("totals: %v rounds=%d counters=%d workers=%d acknowledged=%d unknown=%d files_checked=%d lost=%d",
		sys, p.rounds, p.counters, p.workers, acked, unacked, checked, lost)
	if acked == 0 {
		t.Error("no increment was acknowledged: the test checked nothing")
	}
}

func TestCrash_GracefulShutdownCommitsInFlight(t *testing.T) {
	t.Parallel()
	const (
		requests    = 200
		signalAfter = requests / 10 // acknowledgements before SIGTERM
	)
	dir := t.TempDir()
	srv := startServer(t, dir)
	warmUp(t, srv, "g", requests)

	var acks, refused, errored atomic.Int64
	signal := make(chan struct{})
	start := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait() // also on t.Fatal: every request is bounded by the client timeout
	for range requests {
		wg.Go(func() {
			<-start
			switch out := increment(srv, "g"); out.kind {
			case outAcked:
				if acks.Add(1) == signalAfter {
					close(signal)
				}
			case outRefused:
				refused.Add(1)
				if out.status != http.StatusServiceUnavailable || !strings.Contains(out.body, `"shutting_down"`) {
					t.Errorf("increment answered %d %s, want 200 or 503 shutting_down", out.status, out.body)
				}
			case outUnknown:
				errored.Add(1)
			}
		})
	}
	close(start)
	select {
	case <-signal:
	case <-time.After(listenTimeout):
		t.Fatalf("fewer than %d increments acknowledged within %v; stderr:\n%s", signalAfter, listenTimeout, srv.Tail())
	}
	ackedBeforeSignal := acks.Load()
	srv.term(t) // SIGTERM while the rest are queued at the object; must exit 0
	wg.Wait()

	srv = startServer(t, dir)
	got := get(t, srv, "g")
	srv.term(t)
	a, e := acks.Load(), errored.Load()
	t.Logf("requests=%d acknowledged=%d (%d after SIGTERM) refused=%d errored=%d final=%d",
		requests, a, a-ackedBeforeSignal, refused.Load(), e, got)
	if got < a || got > a+e {
		t.Errorf("after a graceful restart the counter is %d, want between %d (acknowledged) and %d (acknowledged + errored without answer)",
			got, a, a+e)
	}
}

// warmUp sends n concurrent GETs of a counter, so that the object is open and
// the client holds up to n idle keep-alive connections: the requests that
// follow reach the server at once instead of waiting to be accepted.
func warmUp(t *testing.T, srv *server, name string, n int) {
	t.Helper()
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := read(srv, name); err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("warm-up: %v; stderr:\n%s", *err, srv.Tail())
	}
}

// ledger is what clients learned about one counter.
type ledger struct {
	maxAck  atomic.Int64 // highest value acknowledged with a 200
	acks    atomic.Int64 // number of 200 answers: each is one distinct committed increment
	unknown atomic.Int64 // increments sent whose outcome is unknown (in flight at a kill)
}

// lowerBound is the least value the counter may have.
func (l *ledger) lowerBound() int64 { return max(l.maxAck.Load(), l.acks.Load()) }

// upperBound is the greatest value the counter may have.
func (l *ledger) upperBound() int64 { return l.acks.Load() + l.unknown.Load() }

func (l *ledger) ack(v int64) {
	l.acks.Add(1)
	for {
		old := l.maxAck.Load()
		if v <= old || l.maxAck.CompareAndSwap(old, v) {
			return
		}
	}
}

// loadUntilKill runs workers incrementing random counters until delay has
// passed, then SIGKILLs srv and waits for it. It returns the number of
// acknowledged increments and of increments in flight at the kill.
//
// When sys still serves after the crash (one node of a cluster killed), the
// load runs on for afterKill through the other nodes, and their answers
// until then count as of unknown outcome: they may wait out the failover.
func loadUntilKill(t *testing.T, sys system, names []string, ledgers []ledger, workers int, delay time.Duration, round int) (acked, unacked int64) {
	t.Helper()
	const maxPerWorker = 1_000_000 // a bound; the kill ends the loop long before
	var stopping, crashed atomic.Bool
	var nAcked, nUnacked, failures atomic.Int64
	var firstFailure atomic.Pointer[string]
	fail := func(msg string) {
		failures.Add(1)
		firstFailure.CompareAndSwap(nil, &msg)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopping.Store(true)
	for range workers {
		wg.Go(func() {
			for i := 0; i < maxPerWorker && !stopping.Load(); i++ {
				c := rand.IntN(len(names))
				out := increment(sys, names[c])
				switch {
				case out.kind == outAcked:
					ledgers[c].ack(out.value)
					nAcked.Add(1)
				case stopping.Load() || crashed.Load():
					ledgers[c].unknown.Add(1)
					nUnacked.Add(1)
				case out.kind == outRefused:
					ledgers[c].unknown.Add(1) // a refusal should not increment, but stay conservative
					fail(fmt.Sprintf("increment %s answered %d %s", names[c], out.status, out.body))
				default:
					ledgers[c].unknown.Add(1)
					fail(fmt.Sprintf("increment %s before the kill: %v", names[c], out.err))
				}
			}
		})
	}
	<-time.After(delay)
	if sys.serving() {
		crashed.Store(true)
		sys.crash(t, round)
		<-time.After(afterKill)
	}
	stopping.Store(true)
	if !crashed.Load() {
		sys.crash(t, round)
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d increments failed while the server was up; first: %s\nstderr:\n%s", n, *firstFailure.Load(), sys.logs())
	}
	return nAcked.Load(), nUnacked.Load()
}

// checkCounters reads every counter from srv and checks it against what was
// acknowledged and what the previous check saw, which it then updates. It
// returns the number of acknowledged increments found missing.
func checkCounters(t *testing.T, srv endpoint, names []string, ledgers []ledger, seen []int64, round int) (lost int64) {
	t.Helper()
	for i, name := range names {
		v := get(t, srv, name)
		l := &ledgers[i]
		if lo := l.lowerBound(); v < lo {
			lost += lo - v
			t.Errorf("round %d: counter %s = %d after restart, but %d was acknowledged (%d acks): acknowledged writes lost",
				round, name, v, l.maxAck.Load(), l.acks.Load())
		}
		if v < seen[i] {
			t.Errorf("round %d: counter %s went backwards: %d, previously %d", round, name, v, seen[i])
		}
		if hi := l.upperBound(); v > hi {
			t.Errorf("round %d: counter %s = %d, more than the %d increments ever sent (%d acknowledged + %d unknown)",
				round, name, v, hi, l.acks.Load(), l.unknown.Load())
		}
		seen[i] = v
	}
	return lost
}

// checkFiles runs PRAGMA integrity_check on every *.db file under dir and
// checks that each counter's file holds final[i] (unless final is nil). It
// returns the number of files checked.
func checkFiles(t *testing.T, sqlite, dir string, names []string, final []int64) (checked int) {
	t.Helper()
	byID := make(map[string]int, len(names))
	for i, name := range names {
		byID[ids.FromName("counter", name).String()] = i
	}
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "nats" && path != dir {
			return fs.SkipDir // a cluster node's JetStream files, not SQLite
		}
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".db") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	found := make([]bool, len(names))
	for _, f := range files {
		if out := sqlite3(t, sqlite, f, "PRAGMA integrity_check"); out != "ok" {
			t.Errorf("%s: integrity_check = %q, want ok", f, out)
			continue
		}
		if final == nil {
			checked++
			continue
		}
		i, ok := byID[strings.TrimSuffix(filepath.Base(f), ".db")]
		if !ok || filepath.Base(filepath.Dir(filepath.Dir(f))) != "counter" {
			continue // not one of our counters: its integrity is all we know to check
		}
		found[i] = true
		var v int64
		if out := sqlite3(t, sqlite, f, "SELECT value FROM counter WHERE id = 1"); out != "" {
			n, err := strconv.ParseInt(out, 10, 64)
			if err != nil {
				t.Errorf("%s: counter value %q: %v", f, out, err)
				continue
			}
			v = n
		}
		if v != final[i] {
			t.Errorf("%s: counter %s holds %d in its file, but the server answered %d", f, names[i], v, final[i])
		}
		checked++
	}
	for i, ok := range found {
		if !ok && final != nil && final[i] != 0 {
			t.Errorf("counter %s = %d has no database file under %s", names[i], final[i], dir)
		}
	}
	return checked
}

// requireSQLite3 returns the path of the sqlite3 shell, failing the test if
// it is not installed.
func requireSQLite3(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatalf("the sqlite3 command-line shell is not on PATH (%v): install it (e.g. apt-get install -y sqlite3; .ci/run does); crash tests never skip", err)
	}
	return p
}

// sqlite3 runs one SQL statement on file with the sqlite3 shell and returns
// its trimmed output.
func sqlite3(t testing.TB, shell, file, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exitTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, shell, "-batch", file, sql).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s %q: %v\n%s", file, sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// server is one running roost process and the HTTP client the tests use
// on it.
type server struct {
	*proc.Process
	addr   string
	client *http.Client
}

// startServer starts roost on dataDir and a free loopback port and waits for
// its "listening" line. A cleanup kills it if the test has not stopped it.
func startServer(t testing.TB, dataDir string) *server {
	t.Helper()
	return startServerWith(t, spec(proc.Roost(t), "serve", "--addr", "127.0.0.1:0", "--data", dataDir))
}

// spec describes a server to start: a binary and its arguments.
func spec(bin string, args ...string) proc.Spec { return proc.Spec{Path: bin, Args: args} }

// startServerWith starts a server (see startServer).
func startServerWith(t testing.TB, spec proc.Spec) *server {
	t.Helper()
	p := proc.Start(t, spec)
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &server{Process: p, addr: p.Addr(), client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

func (s *server) base() string             { return "http://" + s.addr }
func (s *server) httpClient() *http.Client { return s.client }
func (s *server) logs() string             { return s.Tail() }

// kill SIGKILLs the server and waits for it to die of that signal.
func (s *server) kill(t testing.TB) {
	t.Helper()
	s.Kill(t)
}

// term SIGTERMs the server and requires a clean exit (status 0) within
// proc.ExitTimeout.
func (s *server) term(t testing.TB) {
	t.Helper()
	s.Signal(t, syscall.SIGTERM)
	// A connection the transport dialed but never sent a request on stays
	// "new" on the server, and http.Server.Shutdown waits 5s before closing
	// such connections. Closing ours spares that wait; busy ones are untouched.
	s.client.CloseIdleConnections()
	if err := s.Wait(t, proc.ExitTimeout); err != nil {
		t.Fatalf("roost exited with %v after SIGTERM, want status 0; output:\n%s", err, s.Tail())
	}
}

// outcome kinds of one increment.
const (
	outAcked   = iota // 200 with a value: committed
	outRefused        // an answer other than 200
	outUnknown        // no (complete) answer: may or may not have been committed
)

type outcome struct {
	kind   int
	value  int64
	status int
	body   string
	err    error
}

// increment POSTs /counter/{name}/increment.
func increment(s endpoint, name string) outcome {
	resp, err := s.httpClient().Post(s.base()+"/counter/"+name+"/increment", "", nil)
	if err != nil {
		return outcome{kind: outUnknown, err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return outcome{kind: outUnknown, err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return outcome{kind: outRefused, status: resp.StatusCode, body: strings.TrimSpace(string(body))}
	}
	var v struct{ Value *int64 }
	if err := json.Unmarshal(body, &v); err != nil || v.Value == nil {
		return outcome{kind: outUnknown, err: fmt.Errorf("200 with body %q: %v", body, err)}
	}
	return outcome{kind: outAcked, value: *v.Value, status: resp.StatusCode}
}

// get reads a counter, failing the test on anything but a 200 with a value.
func get(t testing.TB, s endpoint, name string) int64 {
	t.Helper()
	v, err := read(s, name)
	if err != nil {
		t.Fatalf("%v; stderr:\n%s", err, s.logs())
	}
	return v
}

// read GETs /counter/{name} and returns its value.
func read(s endpoint, name string) (int64, error) {
	resp, err := s.httpClient().Get(s.base() + "/counter/" + name)
	if err != nil {
		return 0, fmt.Errorf("GET counter %s: %w", name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET counter %s: %d %s (%v)", name, resp.StatusCode, body, err)
	}
	var v struct{ Value *int64 }
	if err := json.Unmarshal(body, &v); err != nil || v.Value == nil {
		return 0, fmt.Errorf("GET counter %s: body %q: %v", name, body, err)
	}
	return *v.Value, nil
}
