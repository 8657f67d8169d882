package cluster_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
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
	// A purge through one node takes the complete instances whichever
	// nodes own them and the index; the terminated one stays.
	if code, got := wfRequest(t, c, http.MethodPost, urls[0]+"/workflows/flow/purge?status=complete", ""); code != http.StatusOK || !strings.Contains(got, `"purged":9`) {
		t.Fatalf("purge through %s: %d %s, want the 9 complete instances", urls[0], code, got)
	}
	for i, id := range ids {
		if code, got := wfRequest(t, c, http.MethodGet, urls[(i+1)%3]+"/workflows/flow/instances/"+id, ""); code != http.StatusNotFound {
			t.Errorf("status of the purged %s: %d %s, want 404", id, code, got)
		}
	}
	if st := wfGet(t, c, urls[2], term, ""); st.Status != "terminated" {
		t.Errorf("%s is %s after a purge of the complete ones, want terminated", term, st.Status)
	}
	for _, u := range urls { // two of them do not own it
		if code, got := wfRequest(t, c, http.MethodGet, u+"/workflows/flow/instances/none", ""); code != http.StatusNotFound || !strings.Contains(got, "unknown_instance") {
			t.Errorf("status of a missing instance through %s: %d %s, want 404 unknown_instance", u, code, got)
		}
	}
}

// TestCluster_RetentionPurgesFinishedInstances runs nodes whose engines
// keep finished instances for 2 s: the node that owns the workflow's index
// object sweeps them (every second), whichever nodes own the instances,
// and none is left in the index or behind any node.
func TestCluster_RetentionPurgesFinishedInstances(t *testing.T) {
	c := start(t, 3, "--wf-steps", filepath.Join(t.TempDir(), "steps.log"), "--wf-retention", "2s")
	urls := c.URLs()
	var ids []string
	for i := range 6 {
		id := objName("kept", i)
		ids = append(ids, id)
		if code := wfCreate(t, c, urls[i%3], id, flowParams{Steps: 1}); code != http.StatusCreated {
			t.Fatalf("create %s: %d", id, code)
		}
	}
	for i, id := range ids {
		wfAwait(t, c, urls[(i+1)%3], id, "complete")
	}
	deadline := time.Now().Add(time.Minute)
	for i, id := range ids {
		for {
			code, got := wfRequestBy(t, c, deadline, http.MethodGet, urls[(i+2)%3]+"/workflows/flow/instances/"+id, "")
			if code == http.StatusNotFound {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is still there a minute after it finished (retention 2s): %d %s", id, code, got)
			}
			waitABit()
		}
	}
	for _, u := range urls {
		code, body := wfRequestBy(t, c, deadline, http.MethodGet, u+"/workflows/flow/instances?limit=1000", "")
		if code != http.StatusOK || strings.Contains(body, "kept") {
			t.Errorf("the listing through %s after the purge: %d %s", u, code, body)
		}
	}
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
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		code, body := wfRequestBy(t, c, deadline, http.MethodGet, base+"/workflows/flow/instances?status=complete&limit=1000", "")
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

// TestCluster_WorkflowsResumeOnTheNewOwner kills (-9) the owner of
// instances that sleep, wait for an event, wait for a step's retry and run
// steps: each completes on the node that took its shard over, and every
// step the journal recorded ran exactly once after recording (a step the
// kill cut off runs again).
func TestCluster_WorkflowsResumeOnTheNewOwner(t *testing.T) {
	resumeAfter(t, "kill", func(c *cluster.Cluster, victim *cluster.Node) { victim.Kill(t) })
}

// TestCluster_WorkflowsResumeAfterAGracefulStop is the same with the owner
// stopped by SIGTERM: it hands its shards over, and its instances resume on
// their new owners.
func TestCluster_WorkflowsResumeAfterAGracefulStop(t *testing.T) {
	resumeAfter(t, "stop", func(c *cluster.Cluster, victim *cluster.Node) { victim.Term(t) })
}

// TestCluster_WorkflowsResumeWhenTheOwnerIsCutOff is the same with the
// owner isolated from the other nodes instead of killed; once healed, it
// serves the instances' status again, from their new owners.
func TestCluster_WorkflowsResumeWhenTheOwnerIsCutOff(t *testing.T) {
	var c *cluster.Cluster
	resumeAfter(t, "isolation", func(cl *cluster.Cluster, victim *cluster.Node) { c = cl; cl.Isolate(victim.Index) })
	c.Heal()
	for _, g := range flowGroups {
		for i := range 12 {
			id := objName(g.name, i)
			if st := wfAwait(t, c, c.Nodes[0].URL, id, "complete"); st.ID != id {
				t.Fatalf("status of %s answers %s", id, st.ID)
			}
		}
	}
}
