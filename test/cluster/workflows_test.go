package cluster_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/cluster"
)

// other returns the URL of a running node other than the one named not.
func other(c *cluster.Cluster, not string, k int) string {
	var urls []string
	for _, n := range c.Nodes {
		if n.Name != not && n.Running() {
			urls = append(urls, n.URL)
		}
	}
	return urls[k%len(urls)]
}

// TestCluster_WorkflowsFromAnyNode uses the workflow API through every
// node: instances created through each node, their status, events and
// listing through others than their owner (the node that ran their first
// step), a terminate through a non-owner.
func TestCluster_WorkflowsFromAnyNode(t *testing.T) {
	steps := filepath.Join(t.TempDir(), "steps.log")
	c := start(t, 3, "--wf-steps", steps)
	urls := c.URLs()
	p := flowParams{SleepMS: 200, Steps: 1, Wait: true}
	var ids []string
	for i := range 9 {
		id := objName("any", i)
		ids = append(ids, id)
		if code := wfCreate(t, c, urls[i%3], id, p); code != http.StatusCreated {
			t.Fatalf("create %s: %d, want 201", id, code)
		}
		if code := wfCreate(t, c, urls[(i+1)%3], id, p); code != http.StatusOK {
			t.Errorf("a second create of %s through another node answered %d, want 200 (it exists)", id, code)
		}
	}
	for i, id := range ids {
		wfAwait(t, c, urls[(i+2)%3], id, "waiting")
		owner := ranOn(readWfSteps(t, steps), id, "s1")
		if code, got := wfRequest(t, c, http.MethodPost, other(c, owner, i)+"/workflows/flow/instances/"+id+"/events/go", `{}`); code != http.StatusAccepted {
			t.Fatalf("event to %s: %d %s", id, code, got)
		}
	}
	done := map[string]*wfStatus{}
	for i, id := range ids {
		done[id] = wfAwait(t, c, urls[i%3], id, "complete")
	}
	execs := readWfSteps(t, steps)
	for _, id := range ids {
		if reran := checkOnce(t, execs, done[id], flowSteps(p)); reran > 0 {
			t.Errorf("%s: %d steps ran more than once, with no node killed", id, reran)
		}
	}
	for _, u := range urls {
		checkListing(t, c, u, ids)
	}
	term := "any-term"
	wfCreate(t, c, urls[0], term, flowParams{SleepMS: 3_600_000})
	wfAwait(t, c, urls[1], term, "sleeping")
	owner := ranOn(readWfSteps(t, steps), term, "s1")
	if code, got := wfRequest(t, c, http.MethodPost, other(c, owner, 0)+"/workflows/flow/instances/"+term+"/terminate", ""); code != http.StatusOK {
		t.Fatalf("terminate %s through a non-owner: %d %s", term, code, got)
	}
	for _, u := range urls {
		if st := wfGet(t, c, u, term, ""); st.Status != "terminated" {
			t.Errorf("%s through %s is %s after its terminate, want terminated", term, u, st.Status)
		}
	}
	controlThroughOthers(t, c, steps)
}

// controlThroughOthers pauses, resumes and restarts an instance through
// nodes that do not own it.
func controlThroughOthers(t *testing.T, c *cluster.Cluster, steps string) {
	id := "any-ctl"
	wfCreate(t, c, c.URLs()[1], id, flowParams{SleepMS: 3_600_000})
	wfAwait(t, c, c.URLs()[2], id, "sleeping")
	owner := ranOn(readWfSteps(t, steps), id, "s1")
	for k, op := range []string{"pause", "resume", "restart"} {
		code, got := wfRequest(t, c, http.MethodPost, other(c, owner, k)+"/workflows/flow/instances/"+id+"/"+op, "")
		if code != http.StatusOK {
			t.Fatalf("%s %s through a non-owner: %d %s", op, id, code, got)
		}
		if op == "pause" {
			wfAwait(t, c, other(c, owner, k+1), id, "paused")
		} else {
			wfAwait(t, c, other(c, owner, k+1), id, "sleeping")
		}
	}
	runs := 0
	for _, e := range readWfSteps(t, steps) {
		if e.id == id && e.step == "s1" {
			runs++
			if e.node != owner {
				t.Errorf("%s: s1 ran on %s, not on its owner %s", id, e.node, owner)
			}
		}
	}
	if runs != 2 {
		t.Errorf("%s: s1 ran %d times, want 2 (its run, and its restart's)", id, runs)
	}
}

// checkListing lists the complete instances through the node at base until
// it shows every one of ids (a node's reports reach the index a moment
// after their commit), for up to a minute.
func checkListing(t *testing.T, c *cluster.Cluster, base string, ids []string) {
	t.Helper()
	var got []string
	for range 600 {
		code, body := wfRequest(t, c, http.MethodGet, base+"/workflows/flow/instances?status=complete&limit=1000", "")
		var page struct {
			Instances []struct{ ID string } `json:"instances"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil {
			t.Fatalf("list through %s: %d %s", base, code, body)
		}
		got = got[:0]
		for _, s := range page.Instances {
			got = append(got, s.ID)
		}
		if !slices.ContainsFunc(ids, func(id string) bool { return !slices.Contains(got, id) }) {
			return
		}
		waitABit()
	}
	t.Errorf("the listing through %s shows %v complete, want all of %v", base, got, ids)
}

// flowGroup is a kind of instance the kill test runs: what it does when
// its owner is killed.
type flowGroup struct {
	name  string
	p     flowParams
	ready func(*wfStatus) bool // what each must reach before the kill (nil: nothing)
}

func status(want string) func(*wfStatus) bool {
	return func(st *wfStatus) bool { return st.Status == want }
}

var flowGroups = []flowGroup{
	{"sleep", flowParams{SleepMS: 5000, Steps: 2, DelayMS: 20}, status("sleeping")},
	{"wait", flowParams{Steps: 1, Wait: true, DelayMS: 20}, status("waiting")},
	{"retry", flowParams{Steps: 2, RetryMS: 5000, DelayMS: 20}, retrying},
	{"run", flowParams{Steps: 60, DelayMS: 100}, nil}, // about 6 s of steps
}

// TestCluster_WorkflowsResumeOnTheNewOwner kills (-9) the owner of
// instances that sleep, wait for an event and run steps: each completes on
// the node that took its shard over, and every step the journal recorded
// ran exactly once after recording (a step the kill cut off runs again).
func TestCluster_WorkflowsResumeOnTheNewOwner(t *testing.T) {
	steps := filepath.Join(t.TempDir(), "steps.log")
	c := start(t, 3, "--wf-steps", steps)
	urls := c.URLs()
	group := map[string]flowGroup{}
	for _, g := range flowGroups {
		for i := range 12 {
			id := objName(g.name, i)
			group[id] = g
			wfCreate(t, c, urls[i%3], id, g.p)
		}
	}
	ids := slices.Sorted(maps.Keys(group))
	for i, id := range ids {
		if g := group[id]; g.ready != nil {
			wfAwaitFn(t, c, urls[i%3], id, g.name, g.ready)
		}
	}
	victim, owned := pickVictim(t, c, readWfSteps(t, steps), group)
	victim.Kill(t)
	killed := time.Now()
	t.Logf("killed %s, the owner of %v", victim.Name, owned)
	for i, id := range ids {
		if group[id].p.Wait {
			if code, got := wfRequest(t, c, http.MethodPost, other(c, victim.Name, i)+"/workflows/flow/instances/"+id+"/events/go", `{}`); code != http.StatusAccepted {
				t.Fatalf("event to %s: %d %s", id, code, got)
			}
		}
	}
	done := map[string]*wfStatus{}
	for i, id := range ids {
		done[id] = wfAwait(t, c, other(c, victim.Name, i), id, "complete")
	}
	execs := readWfSteps(t, steps)
	reran := 0
	for _, id := range ids {
		reran += checkOnce(t, execs, done[id], flowSteps(group[id].p))
		if n := ranOn(execs, id, "s1"); n == victim.Name && lastNode(execs, id, "s2") == victim.Name {
			t.Errorf("%s (%s) ended on %s before the kill: the test did not test its resumption", id, group[id].name, n)
		}
	}
	t.Logf("%d instances complete, %d of them resumed on a new owner; %d steps ran again (cut off by the kill, or their commit failed during the failover)",
		len(ids), len(owned), reran)
	for _, id := range owned {
		t.Logf("%s (%s) ran its next step on a new owner %s after the kill", id, group[id].name, resumedAfter(execs, id, victim.Name, killed).Round(time.Millisecond))
	}
}

// pickVictim returns the node that owns instances of every group (the node
// that ran their first step), and those instances.
func pickVictim(t *testing.T, c *cluster.Cluster, execs []wfExec, group map[string]flowGroup) (*cluster.Node, []string) {
	t.Helper()
	for _, n := range c.Nodes {
		var owned []string
		per := map[string]int{}
		for id, g := range group {
			if ranOn(execs, id, "s1") == n.Name {
				owned = append(owned, id)
				per[g.name]++
			}
		}
		if len(per) == len(flowGroups) {
			slices.Sort(owned)
			return n, owned
		}
	}
	t.Fatal("no node owns instances of every group")
	return nil, nil
}

// lastNode returns the node that logged the step of instance id last.
func lastNode(execs []wfExec, id, step string) string {
	last := ""
	for _, e := range execs {
		if e.id == id && e.step == step {
			last = e.node
		}
	}
	return last
}
