package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/cluster"
)

// flowParams are the params of clusterd's workflow "flow" (see
// clusterd/flow.go).
type flowParams struct {
	SleepMS int  `json:"sleep_ms,omitempty"`
	RetryMS int  `json:"retry_ms,omitempty"`
	Steps   int  `json:"steps,omitempty"`
	Wait    bool `json:"wait,omitempty"`
	DelayMS int  `json:"delay_ms,omitempty"`
}

// wfStatus is an instance's status as the HTTP API answers it.
type wfStatus struct {
	ID     string   `json:"id"`
	Status string   `json:"status"`
	Steps  []wfStep `json:"steps"`
}

// wfStep is one entry of its history.
type wfStep struct {
	Name   string          `json:"name"`
	Kind   string          `json:"kind"`
	State  string          `json:"state"`
	Result json.RawMessage `json:"result"`
}

// token returns the result of the step name, as the journal recorded it.
func (s *wfStatus) token(name string) string {
	for _, st := range s.Steps {
		if st.Name == name && st.Kind == "step" && st.State == "done" {
			var tok string
			json.Unmarshal(st.Result, &tok)
			return tok
		}
	}
	return ""
}

// wfRequest sends a request to the workflow API until it gets an answer
// other than 503 (an object moving between nodes) or no answer, for up to
// a minute, and returns its status and body.
func wfRequest(t *testing.T, c *cluster.Cluster, method, url, body string) (int, string) {
	t.Helper()
	return wfRequestBy(t, c, time.Now().Add(time.Minute), method, url, body)
}

// wfRequestBy is wfRequest with a deadline: no try starts after it, and
// none lasts past it by more than the client's timeout.
func wfRequestBy(t *testing.T, c *cluster.Cluster, deadline time.Time, method, url, body string) (int, string) {
	t.Helper()
	last := "no try"
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		code, got, err := do(ctx, c.Client(), method, url, body)
		cancel()
		if err == nil && code != http.StatusServiceUnavailable {
			return code, got
		}
		last = fmt.Sprintf("%d %.300s %v", code, got, err)
		waitABit()
	}
	t.Fatalf("%s %s: no answer but 503 or errors until %s; the last: %s", method, url, deadline.Format("15:04:05.000"), last)
	return 0, ""
}

// wfCreate creates the instance id of "flow" through the node at base and
// returns the answer's status (201 created, 200 existed).
func wfCreate(t *testing.T, c *cluster.Cluster, base, id string, p flowParams) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"id": id, "params": p})
	code, got := wfRequest(t, c, http.MethodPost, base+"/workflows/flow/instances", string(body))
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("create %s through %s: %d %s", id, base, code, got)
	}
	return code
}

// wfGet answers the status of the instance id through the node at base;
// query is added to the URL (such as "?wait=30s").
func wfGet(t *testing.T, c *cluster.Cluster, base, id, query string) *wfStatus {
	t.Helper()
	return wfGetBy(t, c, time.Now().Add(time.Minute), base, id, query)
}

func wfGetBy(t *testing.T, c *cluster.Cluster, deadline time.Time, base, id, query string) *wfStatus {
	t.Helper()
	code, got := wfRequestBy(t, c, deadline, http.MethodGet, base+"/workflows/flow/instances/"+id+query, "")
	var st wfStatus
	if code != http.StatusOK || json.Unmarshal([]byte(got), &st) != nil {
		t.Fatalf("status of %s through %s: %d %s", id, base, code, got)
	}
	return &st
}

// wfAwait asks for the status of id through the node at base until it is
// want, for up to 2 minutes.
func wfAwait(t *testing.T, c *cluster.Cluster, base, id, want string) *wfStatus {
	t.Helper()
	return wfAwaitFn(t, c, base, id, want, func(st *wfStatus) bool { return st.Status == want })
}

// wfAwaitFn asks for the status of id through the node at base until ok
// holds (what, if ok is to wait for its end: complete or terminated), for
// up to 2 minutes.
func wfAwaitFn(t *testing.T, c *cluster.Cluster, base, id, what string, ok func(*wfStatus) bool) *wfStatus {
	t.Helper()
	query := ""
	if what == "complete" || what == "terminated" {
		query = "?wait=5s" // under the client's timeout
	}
	deadline := time.Now().Add(2 * time.Minute)
	var st *wfStatus
	for time.Now().Before(deadline) {
		if st = wfGetBy(t, c, deadline, base, id, query); ok(st) {
			return st
		}
		if query == "" {
			waitABit()
		}
	}
	t.Fatalf("%s through %s is %s, not %s, after 2 minutes:\n%+v", id, base, st.Status, what, st)
	return nil
}

// retrying reports whether a step of st waits for its retry.
func retrying(st *wfStatus) bool {
	return slices.ContainsFunc(st.Steps, func(s wfStep) bool { return s.State == "retrying" })
}

// wfExec is one line of the --wf-steps log: one execution of a step.
type wfExec struct {
	id, step, token, node string
	at                    time.Time
	line                  int
}

func readWfSteps(t *testing.T, path string) []wfExec {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []wfExec
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) != 5 || !strings.HasSuffix(line, "\n") {
			continue
		}
		ms, err := strconv.ParseInt(f[4], 10, 64)
		if err != nil {
			t.Fatalf("%s: bad line %q", path, line)
		}
		out = append(out, wfExec{f[0], f[1], f[2], f[3], time.UnixMilli(ms), len(out)})
	}
	return out
}

// ranOn returns the node that logged the step of instance id first ("" if
// none did).
func ranOn(execs []wfExec, id, step string) string {
	for _, e := range execs {
		if e.id == id && e.step == step {
			return e.node
		}
	}
	return ""
}

// checkOnce checks that every step the journal of st recorded ran exactly
// once after recording: its token is in the log once, and no execution of
// that step came after it. It returns the executions that a kill cut off
// (they ran again).
func checkOnce(t *testing.T, execs []wfExec, st *wfStatus, steps []string) (reran int) {
	t.Helper()
	for _, step := range steps {
		tok := st.token(step)
		var runs []wfExec
		for _, e := range execs {
			if e.id == st.ID && e.step == step {
				runs = append(runs, e)
			}
		}
		kept := -1
		for i, r := range runs {
			if r.token == tok {
				if kept >= 0 {
					t.Errorf("%s: step %s: token %s logged twice", st.ID, step, tok)
				}
				kept = i
			}
		}
		switch {
		case tok == "":
			t.Errorf("%s: step %s is not done in the journal", st.ID, step)
		case kept < 0:
			t.Errorf("%s: step %s recorded token %s, which no logged execution has", st.ID, step, tok)
		case kept != len(runs)-1:
			t.Errorf("%s: step %s ran again after its result was recorded: %v", st.ID, step, runs)
		}
		if len(runs) > 1 {
			t.Logf("%s: step %s ran %d times: %v", st.ID, step, len(runs), runs)
		}
		reran += max(len(runs)-1, 0)
	}
	return reran
}

// flowSteps returns the steps of an instance of "flow" with p.
func flowSteps(p flowParams) []string {
	steps := []string{"s1"}
	for k := range p.Steps {
		steps = append(steps, fmt.Sprintf("x%d", k))
	}
	return append(steps, "s2")
}

// waitABit is the pause of the tests' polling loops.
func waitABit() { time.Sleep(100 * time.Millisecond) }

// resumedAfter returns how long after killed the instance id first ran a
// step on a node other than victim (0 if it did not).
func resumedAfter(execs []wfExec, id, victim string, killed time.Time) time.Duration {
	for _, e := range execs {
		if e.id == id && e.node != victim && e.at.After(killed) {
			return e.at.Sub(killed)
		}
	}
	return 0
}
