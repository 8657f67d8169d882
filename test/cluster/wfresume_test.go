package cluster_test

import (
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/cluster"
)

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

// resumeAfter runs instances of every flowGroup, cuts the owner of some of
// each off (with cut, which how names), and checks that they all complete,
// every step the journal recorded having run exactly once after recording.
func resumeAfter(t *testing.T, how string, cut func(c *cluster.Cluster, victim *cluster.Node)) {
	t.Helper()
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
	cut(c, victim)
	killed := time.Now()
	t.Logf("%s of %s, the owner of %v", how, victim.Name, owned)
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
			t.Errorf("%s (%s) ended on %s before the %s: the test did not test its resumption", id, group[id].name, n, how)
		}
	}
	t.Logf("%d instances complete, %d of them resumed on a new owner; %d steps ran again (cut off by the %s, or their commit failed during the failover)",
		len(ids), len(owned), reran, how)
	for _, id := range owned {
		t.Logf("%s (%s) ran its next step on a new owner %s after the %s", id, group[id].name, resumedAfter(execs, id, victim.Name, killed).Round(time.Millisecond), how)
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
