package crash

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/test/internal/proc"
)

// The timer crash test's shape.
const (
	armWorkers     = 32
	maxArmAttempts = 100 // per object; the kills end long before
	maxArmRefusals = 3   // per object: answers other than 200 (each a bug)
	// failSuffix: timerd fails the first run of every fire of the objects
	// whose name ends with it, so the retry (Roost's default, 2 s later)
	// must survive the kills too.
	failSuffix    = "7"
	firstRetry    = 2 * time.Second
	drainTimeout  = 60 * time.Second // longest wait for the fires after the last kill
	pendingSample = 50
)

// timersPlan sizes one run of timersSurviveKill9.
type timersPlan struct {
	tickers            int // objects armed, each with an alarm and two named timers
	minKills, maxKills int
}

// TestCrash_TimersSurviveKill9 arms tickers (test/crash/timerd), each with
// an alarm and two named timers due 2–10 s later, and SIGKILLs the server
// at random moments while they come due, restarting it at once on the same
// data directory: one process, or a three-node cluster killed whole or one
// node at a time (its fires then run on the nodes that take its shards
// over). Every fire of every acknowledged arm must then have run at least
// once (and, for the objects whose first runs fail, run again on retry),
// none before its time; after a graceful restart no timer is left pending.
func TestCrash_TimersSurviveKill9(t *testing.T) {
	// Not parallel with the other kill tests: their clusters would share
	// two cores, and leases that lapse for want of CPU move shards around
	// more than the kills do.
	bin := buildServer(t, "timerd")
	plans := map[string]timersPlan{
		"single":            {tickers: 1000, minKills: 5, maxKills: 12},
		"cluster3_kill_all": {tickers: 300, minKills: 3, maxKills: 6},
		"cluster3_kill_one": {tickers: 300, minKills: 3, maxKills: 6},
	}
	for _, m := range binModes(bin) {
		t.Run(m.name, func(t *testing.T) {
			// Every process appends to one fire log: each line is one
			// write(2) to a file opened with O_APPEND, so the lines of
			// the nodes of a cluster never interleave; each names its pid.
			fires := filepath.Join(t.TempDir(), "fires.log")
			sys := m.start(t, "--fires", fires, "--fail-suffix", failSuffix)
			timersSurviveKill9(t, sys, plans[m.name], fires)
		})
	}
}

// timersSurviveKill9 is the body of TestCrash_TimersSurviveKill9 for one
// system, whose processes append every fire's run to the log fires.
func timersSurviveKill9(t *testing.T, sys system, p timersPlan, fires string) {
	sup := newSupervisor(t, sys)
	a := &armer{sup: sup, plans: make([]*armPlan, p.tickers), stop: make(chan struct{})}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer a.halt() // on t.Fatal too: the workers stop before the deferred Wait
	for range armWorkers {
		wg.Go(a.work)
	}
	armed := make(chan struct{})
	go func() { wg.Wait(); close(armed) }() // after the last Add
	kills := 0
	for kills < p.minKills || (kills < p.maxKills && a.busy(armed)) {
		delay := time.Second + rand.N(1500*time.Millisecond)
		if kills == 0 {
			delay = 200*time.Millisecond + rand.N(800*time.Millisecond) // while the arms go out
		}
		<-time.After(delay)
		sup.restart(t)
		kills++
	}
	drainStart := time.Now()
	<-armed
	if a.failures > 0 {
		t.Errorf("%d arm attempts failed unexpectedly; first:\n  %s", a.failures, strings.Join(a.firstFailures, "\n  "))
	}

	want := a.expected()
	ran, complete := waitFires(t, fires, want, drainStart.Add(drainTimeout))
	drain := time.Since(drainStart)
	st := ran.stats(want, a.plans)
	t.Logf("%v: kills=%d arms: acknowledged=%d of %d, attempts without an answer=%d, re-sent after one=%d",
		sys, kills, len(a.acked()), p.tickers, a.unknown.Load(), a.resent())
	t.Logf("fires: expected=%d seen=%d missing=%d; runs=%d duplicated_fires=%d: retries_by_design=%d reruns_after_crash=%d (on re-sent arms: %d) reruns_same_process=%d; drain=%v",
		st.expected, st.seen, st.expected-st.seen, st.runs, st.duplicated, st.retries, st.crashReruns, st.resentReruns,
		st.sameProcess, drain.Round(time.Millisecond))
	if !complete {
		reportMissing(t, sup, want, ran)
	}
	checkRuns(t, st, p.tickers)

	// A graceful stop and restart: it must not be taken for a crash, and
	// leave no timer pending.
	sys.stop(t)
	sys.recover(t)
	for _, proc := range sys.processes(t) {
		if strings.Contains(proc.Output(), "unclean shutdown") {
			t.Errorf("the restart after a graceful stop reconciled the catalog as after a crash; output:\n%s", proc.Output())
		}
	}
	checkNothingPending(t, sys.endpoint(), a.acked())
	sys.stop(t)
}

// buildServer builds the command test/crash/<name> (once per test binary).
func buildServer(t *testing.T, name string) string {
	t.Helper()
	return proc.Build(t, "github.com/roost-dev/roost/test/crash/"+name)
}

// armPlan is one ticker's arm request and the fires it sets.
type armPlan struct {
	name  string
	body  []byte
	fires map[string]int64 // fire ID → scheduled time, Unix ms
	// Written by the plan's worker, read after the workers are done.
	acked  bool // a 200 came back
	resent bool // sent again after an attempt got no answer
}

// newArmPlan plans ticker i: an alarm and timers t1 and t2, each due at a
// random time 2–10 s after now.
func newArmPlan(i int, now time.Time) *armPlan {
	due := func() int64 { return now.Add(2*time.Second + rand.N(8*time.Second)).UnixMilli() }
	p := &armPlan{name: "tick-" + strconv.Itoa(i), fires: map[string]int64{}}
	req := struct {
		Name   string           `json:"name"`
		Alarm  int64            `json:"alarm"`
		Timers map[string]int64 `json:"timers"`
	}{Name: p.name, Alarm: due(), Timers: map[string]int64{"t1": due(), "t2": due()}}
	p.fires[fmt.Sprintf("alarm@%d", req.Alarm)] = req.Alarm
	for name, at := range req.Timers {
		p.fires[fmt.Sprintf("%s@%d", name, at)] = at
	}
	p.body, _ = json.Marshal(req) // cannot fail
	return p
}

// lastDue is the latest fire of the plan.
func (p *armPlan) lastDue() int64 {
	var last int64
	for _, at := range p.fires {
		last = max(last, at)
	}
	return last
}

// armer arms the tickers from its workers, retrying each until it gets a
// 200, through kills and restarts.
type armer struct {
	sup      *supervisor
	plans    []*armPlan // index i is ticker i; a worker sets it
	next     atomic.Int64
	lastDue  atomic.Int64 // latest fire planned so far, Unix ms
	unknown  atomic.Int64 // attempts without an answer
	stop     chan struct{}
	stopOnce sync.Once

	mu sync.Mutex // guards the fields below
	// failures counts the attempts refused, or left without an answer while
	// the server was up.
	failures      int
	firstFailures []string
}

func (a *armer) halt() { a.stopOnce.Do(func() { close(a.stop) }) }

// busy reports whether fires may still come due: arms are in progress, or
// a planned fire or its first retry is still ahead.
func (a *armer) busy(armed <-chan struct{}) bool {
	select {
	case <-armed:
		return time.Now().UnixMilli() < a.lastDue.Load()+firstRetry.Milliseconds()
	default:
		return true
	}
}

func (a *armer) work() {
	for i := a.next.Add(1) - 1; i < int64(len(a.plans)); i = a.next.Add(1) - 1 {
		p := newArmPlan(int(i), time.Now())
		a.plans[i] = p
		for d := p.lastDue(); ; {
			old := a.lastDue.Load()
			if d <= old || a.lastDue.CompareAndSwap(old, d) {
				break
			}
		}
		if !a.arm(p) {
			return
		}
	}
}

// arm sends p until it is acknowledged, at most maxArmAttempts times and,
// once the server has refused it, maxArmRefusals times. It returns false if
// the test is stopping.
func (a *armer) arm(p *armPlan) bool {
	refusals := 0
	for attempt := 1; attempt <= maxArmAttempts; attempt++ {
		ep, epoch, restarted := a.sup.currentAndNext()
		status, body, err := post(ep, "/ticker/"+p.name+"/arm", p.body)
		switch {
		case err == nil && status == http.StatusOK:
			p.acked = true
			return true
		case err == nil && a.sup.resend(status, epoch):
			// A cluster's answer while the object moved (not_owner: nothing
			// was applied) or while its owner died (no_quorum: unknown).
			a.unknown.Add(1)
			p.resent = true
		case err == nil:
			a.fail(fmt.Sprintf("arm %s (attempt %d) answered %d %s", p.name, attempt, status, body))
			if refusals++; refusals == maxArmRefusals {
				return true
			}
		default:
			a.unknown.Add(1)
			p.resent = true
		}
		select {
		case <-a.stop:
			return false
		case <-restarted:
		case <-time.After(time.Second):
			if err != nil && !a.sup.excused(epoch) {
				a.fail(fmt.Sprintf("arm %s (attempt %d) while the server was up: %v", p.name, attempt, err))
			}
		}
	}
	a.fail(fmt.Sprintf("arm %s: no 200 in %d attempts", p.name, maxArmAttempts))
	return true
}

// fail records an unexpected arm failure; the first few are kept.
func (a *armer) fail(msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failures++
	if len(a.firstFailures) < 5 {
		a.firstFailures = append(a.firstFailures, msg)
	}
}

// acked returns the acknowledged plans.
func (a *armer) acked() []*armPlan {
	var out []*armPlan
	for _, p := range a.plans {
		if p != nil && p.acked {
			out = append(out, p)
		}
	}
	return out
}

func (a *armer) resent() int {
	n := 0
	for _, p := range a.plans {
		if p != nil && p.resent {
			n++
		}
	}
	return n
}

// expected returns the fires that must run: those of every acknowledged arm.
func (a *armer) expected() map[fireKey]int64 {
	want := map[fireKey]int64{}
	for _, p := range a.acked() {
		for id, at := range p.fires {
			want[fireKey{p.name, id}] = at
		}
	}
	return want
}

// post sends body to ep and returns the answer.
func post(ep endpoint, path string, body []byte) (int, string, error) {
	resp, err := ep.httpClient().Post(ep.base()+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

// fireKey is one fire of one ticker.
type fireKey struct{ name, fireID string }

// fireRun is one line of the fire log: one run of a fire's handler.
type fireRun struct {
	attempt int
	pid     int
	at      int64 // Unix ms
}

// fireLog is the parsed log of every run.
type fireLog struct {
	runs      map[fireKey][]fireRun
	lines     int
	malformed []string
}

// readFireLog parses the complete lines of the log at path.
func readFireLog(t *testing.T, path string) *fireLog {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("read fire log: %v", err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1] // a line being written is read at the next poll
	} else {
		data = nil
	}
	l := &fireLog{runs: map[fireKey][]fireRun{}}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			continue // the newline timerd adds after a torn line
		}
		f := strings.Fields(line)
		var r fireRun
		var errs [3]error
		if len(f) == 5 {
			r.attempt, errs[0] = strconv.Atoi(f[2])
			r.pid, errs[1] = strconv.Atoi(f[3])
			r.at, errs[2] = strconv.ParseInt(f[4], 10, 64)
		}
		if len(f) != 5 || errs != [3]error{} {
			l.malformed = append(l.malformed, line)
			continue
		}
		k := fireKey{f[0], f[1]}
		l.runs[k] = append(l.runs[k], r)
		l.lines++
	}
	return l
}

// done reports whether fire k has run to success: any run, or for the
// objects whose first runs fail, a retry.
func (l *fireLog) done(k fireKey) bool {
	for _, r := range l.runs[k] {
		if r.attempt > 0 || !strings.HasSuffix(k.name, failSuffix) {
			return true
		}
	}
	return false
}

// missing returns the wanted fires not done, in order.
func (l *fireLog) missing(want map[fireKey]int64) []fireKey {
	var out []fireKey
	for k := range want {
		if !l.done(k) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b fireKey) int { return strings.Compare(a.name+" "+a.fireID, b.name+" "+b.fireID) })
	return out
}

// waitFires polls the log until every wanted fire is done or deadline
// passes. It returns the last log read and whether every fire was done.
func waitFires(t *testing.T, path string, want map[fireKey]int64, deadline time.Time) (*fireLog, bool) {
	t.Helper()
	for {
		l := readFireLog(t, path)
		if len(l.missing(want)) == 0 {
			return l, true
		}
		if time.Now().After(deadline) {
			return l, false
		}
		<-time.After(200 * time.Millisecond)
	}
}

// runStats are the totals of a fire log against the expected fires.
type runStats struct {
	expected, seen, runs int
	duplicated           int // fires with more than one run
	retries              int // runs with a new attempt number: retries after a failed run
	crashReruns          int // runs of an attempt that an earlier process already ran
	resentReruns         int // of crashReruns, those on objects whose arm was sent again
	sameProcess          int // runs of an attempt the same process already ran
	early, unexpected    []string
	malformed            []string
}

func (l *fireLog) stats(want map[fireKey]int64, plans []*armPlan) runStats {
	resent := map[string]bool{}
	for _, p := range plans {
		if p != nil && p.resent {
			resent[p.name] = true
		}
	}
	st := runStats{expected: len(want), runs: l.lines, malformed: l.malformed}
	for k, runs := range l.runs {
		at, ok := want[k]
		if !ok {
			st.unexpected = append(st.unexpected, fmt.Sprintf("%s %s (%d runs)", k.name, k.fireID, len(runs)))
			continue
		}
		if l.done(k) {
			st.seen++
		}
		if len(runs) > 1 {
			st.duplicated++
		}
		pids := map[int]map[int]bool{} // attempt → processes that ran it
		for _, r := range runs {
			if r.at < at {
				st.early = append(st.early, fmt.Sprintf("%s %s ran at %d, %d ms early", k.name, k.fireID, r.at, at-r.at))
			}
			switch {
			case pids[r.attempt] == nil:
				pids[r.attempt] = map[int]bool{r.pid: true}
				if r.attempt > 0 {
					st.retries++
				}
			case pids[r.attempt][r.pid]:
				st.sameProcess++
			default:
				pids[r.attempt][r.pid] = true
				st.crashReruns++
				if resent[k.name] {
					st.resentReruns++
				}
			}
		}
	}
	return st
}

// checkRuns fails on runs that must not happen.
func checkRuns(t *testing.T, st runStats, tickers int) {
	t.Helper()
	if st.expected != tickers*3 {
		t.Errorf("%d fires expected, want %d (3 for each of %d tickers): not every arm was acknowledged", st.expected, tickers*3, tickers)
	}
	if len(st.early) > 0 {
		t.Errorf("%d runs before their scheduled time; first: %s", len(st.early), strings.Join(first(st.early, 10), "; "))
	}
	if len(st.unexpected) > 0 {
		t.Errorf("%d fires ran that no acknowledged arm set; first: %s", len(st.unexpected), strings.Join(first(st.unexpected, 10), "; "))
	}
	if len(st.malformed) > 0 {
		t.Logf("%d malformed lines in the fire log (torn by a kill?): %q", len(st.malformed), first(st.malformed, 5))
	}
}

// reportMissing fails the test with the first missing fires, their runs
// and what the servers logged about their objects.
func reportMissing(t *testing.T, sup *supervisor, want map[fireKey]int64, l *fireLog) {
	t.Helper()
	miss := l.missing(want)
	logs := sup.logs()
	var b strings.Builder
	for _, k := range first(miss, 20) {
		id := ids.FromName("ticker", k.name).String()
		fmt.Fprintf(&b, "  %s %s (id %s): scheduled %s, runs %+v\n", k.name, k.fireID, id,
			time.UnixMilli(want[k]).Format("15:04:05.000"), l.runs[k])
		run := ""
		for line := range strings.Lines(logs) {
			if strings.HasPrefix(line, "--- process ") {
				run = strings.Trim(line, "- \n")
			} else if strings.Contains(line, id) {
				fmt.Fprintf(&b, "      %s: %s", run, line)
			}
		}
	}
	t.Errorf("%d of %d fires never ran to success within %v of the last kill; first:\n%s", len(miss), len(want), drainTimeout, &b)
}

// checkNothingPending asks a sample of the tickers for their pending
// timers until none has any, for at most drainTimeout: a timer that an arm
// sent again after its fire (the first attempt's answer was lost) is due
// again and fires at once, and must not stay pending.
func checkNothingPending(t *testing.T, ep endpoint, plans []*armPlan) {
	t.Helper()
	deadline := time.Now().Add(drainTimeout)
	for _, i := range first(rand.Perm(len(plans)), pendingSample) {
		name := plans[i].name
		for n := pending(t, ep, name); n != 0; n = pending(t, ep, name) {
			if time.Now().After(deadline) {
				t.Errorf("ticker %s has %d timers pending after every fire ran, want 0", name, n)
				break
			}
			<-time.After(100 * time.Millisecond)
		}
	}
}

// pending answers how many timers ticker name has pending. A cluster's
// not_owner answers (its shards are placed again after a restart) are
// asked again, for up to drainTimeout.
func pending(t *testing.T, ep endpoint, name string) int {
	t.Helper()
	deadline := time.Now().Add(drainTimeout)
	for {
		resp, err := ep.httpClient().Get(ep.base() + "/ticker/" + name + "/pending")
		if err != nil {
			t.Fatalf("GET %s/pending: %v; output:\n%s", name, err, ep.logs())
		}
		var v struct{ Pending *int }
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode == http.StatusServiceUnavailable && time.Now().Before(deadline) {
			<-time.After(100 * time.Millisecond)
			continue
		}
		if err == nil {
			err = json.Unmarshal(body, &v)
		}
		if err != nil || resp.StatusCode != http.StatusOK || v.Pending == nil {
			t.Fatalf("GET %s/pending: %d %s (%v); output:\n%s", name, resp.StatusCode, body, err, ep.logs())
		}
		return *v.Pending
	}
}

func first[T any](s []T, n int) []T { return s[:min(n, len(s))] }
