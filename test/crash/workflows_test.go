package crash

import (
	"bytes"
	"encoding/json"
	"errors"
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
)

// The workflow crash test's shape.
const (
	wfCreateWorkers     = 32
	wfMaxCreateAttempts = 100 // per instance; the kills end long before
	wfMaxCreateRefusals = 3   // per instance: answers other than 200 or 201 (each a bug)
	// wfStepDelay is the longest a step of flowd waits after writing its
	// line, so that kills often land in the middle of a step.
	wfStepDelay     = 20 * time.Millisecond
	wfDrainTimeout  = 2 * time.Minute // longest wait for every instance to complete after the last kill
	wfPollWorkers   = 16
	wfSettleTimeout = 3 * time.Second // how long the log must stay unchanged after a graceful restart
	// wfLate: an instance that finishes later than this after the last
	// restart was not resumed by the engine's startup scan.
	wfLate = 5 * time.Second
)

// wfSteps are the steps of flowd's workflow "five", in order.
var wfSteps = []string{"s1", "s2", "s3", "s4", "s5"}

// workflowsPlan sizes one run of workflowsSurviveKill9.
type workflowsPlan struct {
	instances          int
	minKills, maxKills int
}

// TestCrash_WorkflowsSurviveKill9 creates instances of a workflow of five
// steps (test/crash/flowd), each step appending a line with a token unique
// to its execution to a log file and returning the token, and SIGKILLs the
// server at random moments while they run, restarting it at once on the
// same data directory: one process, or a three-node cluster killed whole or
// one node at a time (its instances then resume on the nodes that take its
// shards over). Every instance must then complete, with the journal's
// results as its output, and every step the journal recorded must have run
// exactly once: its token is in the log once, and no execution of that step
// follows it. Executions before it are re-runs of a step that a kill
// interrupted before its commit: they are allowed, and counted. After a
// graceful restart, nothing runs again.
func TestCrash_WorkflowsSurviveKill9(t *testing.T) {
	// Not parallel with the other kill tests: their clusters would share
	// two cores, and leases that lapse for want of CPU move shards around
	// more than the kills do.
	bin := buildServer(t, "flowd")
	plans := map[string]workflowsPlan{
		"single":            {instances: 1000, minKills: 5, maxKills: 12},
		"cluster3_kill_all": {instances: 300, minKills: 3, maxKills: 6},
		"cluster3_kill_one": {instances: 300, minKills: 3, maxKills: 6},
	}
	for _, m := range binModes(bin) {
		t.Run(m.name, func(t *testing.T) {
			// One log for every process (see TestCrash_TimersSurviveKill9).
			steps := filepath.Join(t.TempDir(), "steps.log")
			sys := m.start(t, "--steps", steps, "--step-delay", wfStepDelay.String())
			workflowsSurviveKill9(t, sys, plans[m.name], steps)
		})
	}
}

// workflowsSurviveKill9 is the body of TestCrash_WorkflowsSurviveKill9 for
// one system, whose processes append every step's execution to the log
// steps.
func workflowsSurviveKill9(t *testing.T, sys system, p workflowsPlan, steps string) {
	sup := newSupervisor(t, sys)
	start := time.Now()
	c := &creator{sup: sup, answers: make([]int, p.instances), stop: make(chan struct{})}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.halt() // on t.Fatal too: the workers stop before the deferred Wait
	for range wfCreateWorkers {
		wg.Go(c.work)
	}
	created := make(chan struct{})
	go func() { wg.Wait(); close(created) }() // after the last Add
	var kills []string
	logged := -1 // step executions logged at the last kill
	for len(kills) < p.minKills || (len(kills) < p.maxKills && c.busy(created, steps, logged)) {
		delay := time.Second + rand.N(1500*time.Millisecond)
		if len(kills) == 0 {
			delay = 200*time.Millisecond + rand.N(800*time.Millisecond) // while the creates go out
		}
		<-time.After(delay)
		l := readStepLog(t, steps)
		logged = l.lines
		kills = append(kills, fmt.Sprintf("kill %d at %v: %d creates answered, %d step executions logged, %d instances reached s5",
			len(kills)+1, time.Since(start).Round(time.Millisecond), c.answered.Load(), l.lines, l.reached("s5")))
		sup.restart(t)
	}
	drainStart := time.Now()
	<-created
	createTime := time.Since(start)
	if c.failures > 0 {
		t.Errorf("%d create attempts failed unexpectedly; first:\n  %s", c.failures, strings.Join(c.firstFailures, "\n  "))
	}
	for _, k := range kills {
		t.Log(k)
	}

	sts, complete, late := waitComplete(t, sup.current(), c.ids(), drainStart, drainStart.Add(wfDrainTimeout))
	drain := time.Since(drainStart)
	l := readStepLog(t, steps)
	_, isSingle := sys.(*single)
	st := checkJournal(t, sts, l, !isSingle)
	t.Logf("%v: kills=%d instances: created=%d (201 answers=%d, 200 answers=%d), create attempts without an answer=%d; creates took %v",
		sys, len(kills), c.count(), c.count201(), c.count()-c.count201(), c.unknown.Load(), createTime.Round(time.Millisecond))
	t.Logf("steps: committed=%d executions=%d reruns_after_crash=%d (instances with one: %d) reruns_same_process=%d; complete=%d of %d; drain=%v, total=%v",
		st.committed, l.lines, st.crashReruns, st.rerunInstances, st.sameProcess, complete, p.instances,
		drain.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if len(late) > 0 {
		// After a kill, the engine's startup check resumes every instance
		// that was running (on a cluster, the new owner's alarm of the
		// instance); one that finished late waited for something else (a
		// retry after a failure).
		t.Logf("%d instances finished more than %v after the last restart: not resumed by the engine's startup check; first: %s",
			len(late), wfLate, strings.Join(first(late, 10), " "))
	}
	if complete < p.instances {
		reportIncomplete(t, sup, sts, l)
	}

	// A graceful stop and restart: the restart must see a clean shutdown,
	// and no step may run again.
	sys.stop(t)
	before := readStepLog(t, steps).lines
	sys.recover(t)
	for _, proc := range sys.processes(t) {
		if strings.Contains(proc.Output(), "unclean shutdown") {
			t.Errorf("the restart after a graceful stop reconciled the catalog as after a crash; output:\n%s", proc.Output())
		}
	}
	checkListed(t, sys.endpoint(), sts, sup, isSingle)
	<-time.After(wfSettleTimeout)
	if l := readStepLog(t, steps); l.lines != before {
		t.Errorf("after a graceful restart, %d more step executions were logged, want none: a complete instance ran again",
			l.lines-before)
	}
	sys.stop(t)
}

// wfID is the ID of instance i; its params are {"n": i}.
func wfID(i int) string { return fmt.Sprintf("i%04d", i) }

// creator creates the instances from its workers, retrying each until it
// gets a 201 or 200, through kills and restarts (creation is idempotent by
// ID).
type creator struct {
	sup      *supervisor
	next     atomic.Int64
	answered atomic.Int64 // creates acknowledged so far
	unknown  atomic.Int64 // attempts without an answer
	stop     chan struct{}
	stopOnce sync.Once
	// answers[i] is the status that acknowledged instance i (201 or 200),
	// 0 if none did. Written by its worker, read after the workers are done.
	answers []int

	mu sync.Mutex // guards the fields below
	// failures counts the attempts refused, or left without an answer while
	// the server was up.
	failures      int
	firstFailures []string
}

func (c *creator) halt() { c.stopOnce.Do(func() { close(c.stop) }) }

// busy reports whether instances may still be running: creates are in
// progress, or the log has fewer instances at their last step than were
// created and more step executions than logged (the last kill). Once the
// steps stopped, the instances left wait for their alarm, due 30 s after
// their last run began: killing on would only delay them.
func (c *creator) busy(created <-chan struct{}, steps string, logged int) bool {
	select {
	case <-created:
		l := readStepLog(nil, steps)
		return l.lines > logged && l.reached(wfSteps[len(wfSteps)-1]) < c.count()
	default:
		return true
	}
}

func (c *creator) work() {
	for i := int(c.next.Add(1) - 1); i < len(c.answers); i = int(c.next.Add(1) - 1) {
		if !c.create(i) {
			return
		}
	}
}

// create sends the create of instance i until it is acknowledged, at most
// wfMaxCreateAttempts times and, once the server has refused it,
// wfMaxCreateRefusals times. It returns false if the test is stopping.
func (c *creator) create(i int) bool {
	body := fmt.Appendf(nil, `{"id":%q,"params":{"n":%d}}`, wfID(i), i)
	refusals := 0
	for attempt := 1; attempt <= wfMaxCreateAttempts; attempt++ {
		ep, epoch, restarted := c.sup.currentAndNext()
		status, answer, err := post(ep, "/workflows/five/instances", body)
		switch {
		case err == nil && status == http.StatusOK && attempt == 1:
			// 200 is for an ID that exists: only a retry may find one.
			c.fail(fmt.Sprintf("create %s answered 200 to its first attempt, want 201: %s", wfID(i), answer))
			c.answers[i] = status
			c.answered.Add(1)
			return true
		case err == nil && (status == http.StatusCreated || status == http.StatusOK):
			c.answers[i] = status
			c.answered.Add(1)
			return true
		case err == nil && c.sup.resend(status, epoch):
			c.unknown.Add(1) // a cluster's answer while the object moved or its owner died
		case err == nil:
			c.fail(fmt.Sprintf("create %s (attempt %d) answered %d %s", wfID(i), attempt, status, answer))
			if refusals++; refusals == wfMaxCreateRefusals {
				return true
			}
		default:
			c.unknown.Add(1)
		}
		select {
		case <-c.stop:
			return false
		case <-restarted:
		case <-time.After(time.Second):
			if err != nil && !c.sup.excused(epoch) {
				c.fail(fmt.Sprintf("create %s (attempt %d) while the server was up: %v", wfID(i), attempt, err))
			}
		}
	}
	c.fail(fmt.Sprintf("create %s: no 201 or 200 in %d attempts", wfID(i), wfMaxCreateAttempts))
	return true
}

// fail records an unexpected create failure; the first few are kept.
func (c *creator) fail(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures++
	if len(c.firstFailures) < 5 {
		c.firstFailures = append(c.firstFailures, msg)
	}
}

// ids returns the IDs of the acknowledged instances, by index.
func (c *creator) ids() map[string]int {
	out := map[string]int{}
	for i, a := range c.answers {
		if a != 0 {
			out[wfID(i)] = i
		}
	}
	return out
}

func (c *creator) count() int { return int(c.answered.Load()) }

func (c *creator) count201() int {
	n := 0
	for _, a := range c.answers {
		if a == http.StatusCreated {
			n++
		}
	}
	return n
}

// wfStatus is the part of an instance's status (GET
// /workflows/{name}/instances/{id}) that the test checks.
type wfStatus struct {
	ID     string          `json:"id"`
	Status string          `json:"status"`
	Params json.RawMessage `json:"params"`
	Output json.RawMessage `json:"output"`
	Error  json.RawMessage `json:"error"`
	Steps  []wfStep        `json:"steps"`
	n      int             // the instance's index, from its ID
}

// wfStep is one entry of an instance's history.
type wfStep struct {
	Name     string          `json:"name"`
	Kind     string          `json:"kind"`
	State    string          `json:"state"`
	Attempts int             `json:"attempts"`
	Result   json.RawMessage `json:"result"`
	Error    json.RawMessage `json:"error"`
}

// errMoving is getStatus's error for a cluster's not_owner answer: the
// instance's shard was moving and nothing was read.
var errMoving = errors.New("the instance's shard is moving")

// getStatus GETs the status of instance id.
func getStatus(ep endpoint, id string) (*wfStatus, error) {
	resp, err := ep.httpClient().Get(ep.base() + "/workflows/five/instances/" + id)
	if err != nil {
		return nil, fmt.Errorf("GET instance %s: %w", id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil && resp.StatusCode == http.StatusServiceUnavailable && bytes.Contains(body, []byte(`"not_owner"`)) {
		return nil, fmt.Errorf("GET instance %s: %w: %s", id, errMoving, bytes.TrimSpace(body))
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET instance %s: %d %s (%v)", id, resp.StatusCode, bytes.TrimSpace(body), err)
	}
	var st wfStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("GET instance %s: body %q: %v", id, body, err)
	}
	return &st, nil
}

// waitComplete polls the status of every instance of ids (ID → index) that
// is not finished yet until all are, or deadline passes. It returns the
// last status of each, how many are complete, and the IDs of those first
// seen finished more than wfLate after since, sorted.
func waitComplete(t *testing.T, ep endpoint, ids map[string]int, since, deadline time.Time) (map[string]*wfStatus, int, []string) {
	t.Helper()
	sts := map[string]*wfStatus{}
	var late []string
	for {
		var todo []string
		for id := range ids {
			if st := sts[id]; st == nil || !wfFinished(st.Status) {
				todo = append(todo, id)
			}
		}
		if len(todo) == 0 || time.Now().After(deadline) {
			break
		}
		var mu sync.Mutex
		var errs []error
		var next atomic.Int64
		var wg sync.WaitGroup
		for range wfPollWorkers {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < len(todo); i = int(next.Add(1) - 1) {
					st, err := getStatus(ep, todo[i])
					mu.Lock()
					if errors.Is(err, errMoving) {
						// A cluster's answer while the instance's shard moves:
						// asked again at the next poll, until the deadline.
					} else if err != nil {
						errs = append(errs, err)
					} else {
						st.n = ids[todo[i]]
						sts[todo[i]] = st
						if wfFinished(st.Status) && time.Since(since) > wfLate {
							late = append(late, todo[i])
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("%d status requests failed with no kill; first: %v; output:\n%s", len(errs), errs[0], ep.logs())
		}
		<-time.After(500 * time.Millisecond)
	}
	complete := 0
	for _, st := range sts {
		if st.Status == "complete" {
			complete++
		}
	}
	slices.Sort(late)
	return sts, complete, late
}

func wfFinished(status string) bool {
	return status == "complete" || status == "errored" || status == "terminated"
}

// stepKey is one step of one instance.
type stepKey struct{ instance, step string }

// stepRun is one line of the step log: one execution of a step.
type stepRun struct {
	token string
	proc  string // the process that ran it: the token's part before the dot
	line  int    // its line number in the log, from 1
}

func (r stepRun) String() string { return fmt.Sprintf("%s (line %d)", r.token, r.line) }

// stepLog is the parsed log of every step execution.
type stepLog struct {
	runs      map[stepKey][]stepRun
	lines     int
	malformed []string
}

// readStepLog parses the complete lines of the log at path. With t nil, an
// unreadable log reads as empty.
func readStepLog(t *testing.T, path string) *stepLog {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) && t != nil {
		t.Fatalf("read step log: %v", err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1] // a line being written is read at the next poll
	} else {
		data = nil
	}
	l := &stepLog{runs: map[stepKey][]stepRun{}}
	n := 0
	for line := range strings.Lines(string(data)) {
		n++
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			continue // the newline flowd adds after a torn line
		}
		f := strings.Fields(line)
		if len(f) != 3 || !slices.Contains(wfSteps, f[1]) || !strings.Contains(f[2], ".") {
			l.malformed = append(l.malformed, line)
			continue
		}
		k := stepKey{f[0], f[1]}
		proc, _, _ := strings.Cut(f[2], ".")
		l.runs[k] = append(l.runs[k], stepRun{token: f[2], proc: proc, line: n})
		l.lines++
	}
	return l
}

// reached returns the number of instances with at least one execution of
// step logged.
func (l *stepLog) reached(step string) int {
	n := 0
	for k := range l.runs {
		if k.step == step {
			n++
		}
	}
	return n
}

// journalStats are the totals of the journals against the step log.
type journalStats struct {
	committed      int // steps the journals recorded as done
	crashReruns    int // executions before the committed one, by a process that was killed
	sameProcess    int // executions before the committed one, by the process that committed it
	rerunInstances int // instances with at least one re-run
}

// checkJournal checks each instance's status against the step log: the
// instance is complete with its five steps done in one attempt each and
// their results as output; each result is the token of exactly one logged
// execution of its step, and no execution of the step follows it, nor
// precedes the commit of the step before.
//
// fenced says whether a process can lose an instance without dying: a
// cluster node whose lease lapsed (its commit fails) may run the step again
// when the shard comes back to it. On one node, a step run again by the
// process that then committed it is a bug.
func checkJournal(t *testing.T, sts map[string]*wfStatus, l *stepLog, fenced bool) journalStats {
	t.Helper()
	var st journalStats
	var bad, reran, early, notComplete []string
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range sts {
			if !yield(id) {
				return
			}
		}
	})
	for _, id := range ids {
		s := sts[id]
		if s.Status != "complete" {
			notComplete = append(notComplete, fmt.Sprintf("%s is %s (error %s, %d steps in its journal)", id, s.Status, s.Error, len(s.Steps)))
		}
		var tokens []string
		prevLine := 0 // the committed line of the step before
		instanceReran := false
		for i, step := range s.Steps {
			var tok string
			switch {
			case i >= len(wfSteps) || step.Name != wfSteps[i] || step.Kind != "step":
				bad = append(bad, fmt.Sprintf("%s: journal entry %d is %s %q, want step %q", id, i, step.Kind, step.Name, wfSteps[min(i, len(wfSteps)-1)]))
				continue
			case step.State != "done" || step.Attempts != 1 || json.Unmarshal(step.Result, &tok) != nil || len(step.Error) > 0:
				bad = append(bad, fmt.Sprintf("%s: step %s is %s after %d attempts with result %s, error %s; want done in 1 attempt with a token",
					id, step.Name, step.State, step.Attempts, step.Result, step.Error))
				continue
			}
			st.committed++
			tokens = append(tokens, tok)
			runs := l.runs[stepKey{id, step.Name}]
			at := slices.IndexFunc(runs, func(r stepRun) bool { return r.token == tok })
			if at < 0 {
				bad = append(bad, fmt.Sprintf("%s: step %s recorded token %s, which no logged execution has (executions: %v)", id, step.Name, tok, runs))
				continue
			}
			committed := runs[at]
			if n := len(runs) - at - 1; n > 0 {
				reran = append(reran, fmt.Sprintf("%s: step %s ran again %d time(s) after its committed execution (token %s, line %d): %v",
					id, step.Name, n, tok, committed.line, runs[at+1:]))
			}
			for _, r := range runs[:at] {
				if r.token == tok {
					bad = append(bad, fmt.Sprintf("%s: step %s: token %s logged twice (lines %d and %d)", id, step.Name, tok, r.line, committed.line))
				}
				if r.line < prevLine {
					early = append(early, fmt.Sprintf("%s: step %s ran (line %d) before step %s committed (line %d)",
						id, step.Name, r.line, s.Steps[i-1].Name, prevLine))
				}
				if r.proc == committed.proc {
					st.sameProcess++
				} else {
					st.crashReruns++
				}
				instanceReran = true
			}
			if committed.line < prevLine {
				early = append(early, fmt.Sprintf("%s: step %s committed from line %d, before step %s's line %d",
					id, step.Name, committed.line, s.Steps[i-1].Name, prevLine))
			}
			prevLine = committed.line
		}
		if instanceReran {
			st.rerunInstances++
		}
		if s.Status == "complete" {
			var out struct {
				N      *int     `json:"n"`
				Tokens []string `json:"tokens"`
			}
			if err := json.Unmarshal(s.Output, &out); err != nil || out.N == nil || *out.N != s.n || !slices.Equal(out.Tokens, tokens) || len(tokens) != len(wfSteps) {
				bad = append(bad, fmt.Sprintf("%s: output %s (%v), want {\"n\":%d,\"tokens\":%q}: the results of its %d steps",
					id, s.Output, err, s.n, tokens, len(wfSteps)))
			}
		}
	}
	for k, runs := range l.runs {
		if _, ok := sts[k.instance]; !ok {
			bad = append(bad, fmt.Sprintf("%s: step %s ran %d times, but no acknowledged create made that instance", k.instance, k.step, len(runs)))
		}
	}
	if len(notComplete) > 0 {
		t.Errorf("%d of %d instances are not complete; first:\n  %s", len(notComplete), len(sts), strings.Join(first(notComplete, 10), "\n  "))
	}
	if len(reran) > 0 {
		t.Errorf("%d committed steps ran again (the journal recorded their result, yet they ran after it); first:\n  %s",
			len(reran), strings.Join(first(reran, 10), "\n  "))
	}
	if len(early) > 0 {
		t.Errorf("%d steps ran before the step before them committed; first:\n  %s", len(early), strings.Join(first(early, 10), "\n  "))
	}
	if len(bad) > 0 {
		t.Errorf("%d journal entries or outputs do not match the step log; first:\n  %s", len(bad), strings.Join(first(bad, 10), "\n  "))
	}
	if st.sameProcess > 0 && !fenced {
		t.Errorf("%d steps ran again in the process that then committed them (no kill interrupted the earlier execution)", st.sameProcess)
	}
	if len(l.malformed) > 0 {
		t.Logf("%d malformed lines in the step log (torn by a kill?): %q", len(l.malformed), first(l.malformed, 5))
	}
	return st
}

// reportIncomplete logs, for the first instances not complete, their
// status, their logged executions and what the servers logged about them.
func reportIncomplete(t *testing.T, sup *supervisor, sts map[string]*wfStatus, l *stepLog) {
	t.Helper()
	procs := sup.all()
	var b strings.Builder
	shown := 0
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id, s := range sts {
			if s.Status != "complete" && !yield(id) {
				return
			}
		}
	}) {
		if shown++; shown > 10 {
			break
		}
		s := sts[id]
		fmt.Fprintf(&b, "  %s: %s, %d steps in its journal; executions:", id, s.Status, len(s.Steps))
		for _, step := range wfSteps {
			fmt.Fprintf(&b, " %s=%v", step, l.runs[stepKey{id, step}])
		}
		b.WriteString("\n")
		for i, p := range procs {
			for line := range strings.Lines(p.Output()) {
				if strings.Contains(line, "instance="+id+" ") || strings.HasSuffix(line, "instance="+id+"\n") {
					fmt.Fprintf(&b, "      flowd run %d (pid %d): %s", i+1, p.PID(), line)
				}
			}
		}
	}
	t.Errorf("instances not complete within %v of the last kill:\n%s", wfDrainTimeout, &b)
}

// checkListed compares the engine's listing (its index) with the statuses
// of the instances, after a graceful restart. On one node the restart after
// each kill reconciles the index, so every instance must be listed with its
// status (strict). On a cluster a node's reports to the index owner that
// it had not sent when it was killed are lost until the instance changes
// again (a documented limit): the discrepancies are logged, with the runs
// that committed the instance's steps, not failed; the journals, which
// checkJournal checked, are the truth.
func checkListed(t *testing.T, ep endpoint, sts map[string]*wfStatus, sup *supervisor, strict bool) {
	t.Helper()
	listed := map[string]string{}
	deadline := time.Now().Add(wfDrainTimeout)
	for cursor := ""; ; {
		resp, err := ep.httpClient().Get(ep.base() + "/workflows/five/instances?limit=1000&cursor=" + cursor)
		if err != nil {
			t.Fatalf("list instances: %v; output:\n%s", err, ep.logs())
		}
		var page struct {
			Instances []struct{ ID, Status string }
			Cursor    string
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond) // a cluster's index shard is moving: ask again
			continue
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("list instances: %d (%v); output:\n%s", resp.StatusCode, err, ep.logs())
		}
		for _, in := range page.Instances {
			listed[in.ID] = in.Status
		}
		if page.Cursor == "" {
			break
		}
		cursor = page.Cursor
	}
	var off []string
	for id, s := range sts {
		if got, ok := listed[id]; !ok {
			off = append(off, fmt.Sprintf("%s not listed (it is %s; its steps ran in flowd runs %v)", id, s.Status, runsOf(sup, s)))
		} else if got != s.Status {
			off = append(off, id+" listed as "+got+" (it is "+s.Status+")")
		}
	}
	slices.Sort(off)
	switch {
	case len(off) > 0 && !strict:
		t.Logf("index: %d of %d instances listed wrongly (reports lost with a killed node): %s", len(off), len(sts), strings.Join(first(off, 10), "; "))
	case len(off) > 0:
		t.Errorf("index: %d of %d instances listed wrongly after a graceful restart: %s", len(off), len(sts), strings.Join(first(off, 10), "; "))
	default:
		t.Logf("index: all %d instances listed with their status", len(sts))
	}
}

// runsOf returns, for each step in the journal of s, the number of the
// flowd run (from 1) whose execution committed it.
func runsOf(sup *supervisor, s *wfStatus) []int {
	procs := sup.all()
	var out []int
	for _, step := range s.Steps {
		var tok string
		json.Unmarshal(step.Result, &tok)
		pid, _, _ := strings.Cut(tok, "-")
		n := 0
		for i, p := range procs {
			if strconv.Itoa(p.PID()) == pid {
				n = i + 1
			}
		}
		out = append(out, n)
	}
	return out
}
