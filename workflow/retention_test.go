package workflow_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/roosttest"
	"github.com/roost-dev/roost/workflow"
)

// retentionEnv opens an engine that keeps finished instances for an hour,
// with a workflow "job" whose params say how it ends: "ok" completes,
// "fail" errors, "sleep" sleeps 10 hours first.
func retentionEnv(t *testing.T) (*roosttest.Env, *workflow.Workflow[string, string]) {
	var wf *workflow.Workflow[string, string]
	v := roosttest.New(t, func(_ *roost.App, env *roosttest.Env) {
		wf = workflow.Define(env.Workflows(), "job", func(ctx workflow.Context, how string) (string, error) {
			switch how {
			case "fail":
				return "", roost.NewError("job_failed", "told to fail")
			case "sleep":
				if err := workflow.Sleep(ctx, "nap", 10*time.Hour); err != nil {
					return "", err
				}
			}
			return how, nil
		})
	}, roosttest.WithStart(epoch), roosttest.WithWorkflows(workflow.Options{Retention: time.Hour}))
	return v, wf
}

// listed returns the IDs the index lists for the workflow.
func listed(t *testing.T, e *workflow.Engine, name string) []string {
	t.Helper()
	page, err := e.List(context.Background(), name, workflow.ListOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range page.Instances {
		ids = append(ids, s.ID)
	}
	return ids
}

// gone reports whether the instance is unknown now.
func gone(t *testing.T, inst *workflow.Instance) bool {
	t.Helper()
	_, err := inst.Status(context.Background())
	switch code := roost.ErrorCode(err); {
	case err == nil:
		return false
	case code == "unknown_instance":
		return true
	default:
		t.Fatalf("status of %s: %v", inst.ID(), err)
		return false
	}
}

// Finished instances stay for the retention after their end, then the
// engine purges them with their storage and their index rows; an instance
// still sleeping stays, and a purged ID can be created again.
func TestRetention_PurgesFinishedInstancesAfterTheRetention(t *testing.T) {
	v, wf := retentionEnv(t)
	ok, failed, sleeper := create(t, wf, "ok", "ok"), create(t, wf, "failed", "fail"), create(t, wf, "sleeper", "sleep")
	wait(v, ok, workflow.StatusComplete)
	wait(v, failed, workflow.StatusErrored)
	wait(v, sleeper, workflow.StatusSleeping)

	advance(v, 50*time.Minute, time.Minute)
	if gone(t, ok) || gone(t, failed) {
		t.Fatal("an instance went before its retention ended")
	}
	v.AdvanceUntil(func() bool { return gone(t, ok) && gone(t, failed) }, time.Minute, 2*time.Hour)
	if moved := v.Now().Sub(epoch); moved > time.Hour+5*time.Minute {
		t.Errorf("purged %s after the end, want within the retention (1h) and a sweep (36s)", moved)
	}
	if st := status(v, sleeper, nil); st.Status != workflow.StatusSleeping {
		t.Fatalf("the sleeping instance is %s", st.Status)
	}
	// The sweep forgets the rows after the instances it purged.
	v.WaitUntil(func() bool { return slices.Equal(listed(t, v.Workflows(), "job"), []string{"sleeper"}) })
	if ids := stored(t, v.App(), "job"); !slices.Equal(ids, []string{"sleeper"}) {
		t.Fatalf("the partitions hold instances %q, want the sleeper only", ids)
	}

	again := create(t, wf, "ok", "ok") // create fails the test unless it is new
	wait(v, again, workflow.StatusComplete)
}

// Purge removes, on demand, the instances that finished before a time (in
// one final status, if asked), and never one that runs again.
func TestPurge_RemovesWhatFinishedBeforeATime(t *testing.T) {
	v, wf := retentionEnv(t)
	e := v.Workflows()
	ctx := context.Background()
	early := create(t, wf, "early", "ok")
	wait(v, early, workflow.StatusComplete)
	v.Advance(10 * time.Minute)
	cut := v.Now()
	late, failed := create(t, wf, "late", "ok"), create(t, wf, "failed", "fail")
	wait(v, late, workflow.StatusComplete)
	wait(v, failed, workflow.StatusErrored)
	restarted := create(t, wf, "restarted", "sleep")
	wait(v, restarted, workflow.StatusSleeping)
	if err := restarted.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := restarted.Restart(ctx); err != nil { // it sleeps again
		t.Fatal(err)
	}
	wait(v, restarted, workflow.StatusSleeping)

	if n, err := e.Purge(ctx, "job", workflow.PurgeOptions{Before: cut}); err != nil || n != 1 {
		t.Fatalf("purge before %s: %d, %v; want 1", cut, n, err)
	}
	if !gone(t, early) || gone(t, late) {
		t.Fatal("the purge took the wrong instances")
	}
	if n, err := e.Purge(ctx, "job", workflow.PurgeOptions{Status: workflow.StatusErrored}); err != nil || n != 1 || !gone(t, failed) {
		t.Fatalf("purge of the errored: %d, %v; want 1", n, err)
	}
	if n, err := e.Purge(ctx, "job", workflow.PurgeOptions{}); err != nil || n != 1 || !gone(t, late) {
		t.Fatalf("purge of every finished one: %d, %v; want 1", n, err)
	}
	if gone(t, restarted) {
		t.Fatal("the purge took an instance that runs again")
	}
	if _, err := e.Purge(ctx, "nope", workflow.PurgeOptions{}); roost.ErrorCode(err) != "unknown_workflow" {
		t.Fatalf("purge of an unknown workflow: %v", err)
	}
	if _, err := e.Purge(ctx, "job", workflow.PurgeOptions{Status: workflow.StatusSleeping}); roost.ErrorCode(err) != "bad_request" {
		t.Fatalf("purge of sleeping instances: %v", err)
	}
}

// POST /workflows/{name}/purge takes older_than or before, and status.
func TestPurge_OverHTTP(t *testing.T) {
	v, wf := retentionEnv(t)
	for _, id := range []string{"a", "b"} {
		wait(v, create(t, wf, id, "ok"), workflow.StatusComplete)
	}
	v.Advance(10 * time.Minute)
	for _, bad := range []string{"older_than=soon", "older_than=-1h", "before=yesterday", "older_than=1h&before=2026-01-01T00:00:00Z", "status=running"} {
		if code, body := v.HTTP(http.MethodPost, "/workflows/job/purge?"+bad, ""); code != http.StatusBadRequest {
			t.Errorf("?%s: %d %s, want 400", bad, code, body)
		}
	}
	purged := func(query string) int {
		t.Helper()
		code, body := v.HTTP(http.MethodPost, "/workflows/job/purge?"+query, "")
		var out struct{ Purged int }
		if code != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil {
			t.Fatalf("?%s: %d %s", query, code, body)
		}
		return out.Purged
	}
	if n := purged("older_than=1h"); n != 0 {
		t.Fatalf("older_than=1h purged %d, want 0", n)
	}
	if n := purged("older_than=5m&status=complete"); n != 2 {
		t.Fatalf("older_than=5m purged %d, want 2", n)
	}
	if code, _ := v.HTTP(http.MethodPost, "/workflows/nope/purge", ""); code != http.StatusNotFound {
		t.Fatalf("an unknown workflow's purge: %d, want 404", code)
	}
}

// stored returns the IDs of the instances of workflow whose records its
// partitions hold, sorted.
func stored(t *testing.T, app *roost.App, workflow string) []string {
	t.Helper()
	ctx := context.Background()
	objs, err := app.Admin().List(ctx, roost.ListObjectsOptions{Class: "wfp-" + workflow})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range objs.Objects {
		in, err := app.Admin().Inspect(ctx, roost.ObjectRef{Class: o.Class, ID: o.ID}, roost.InspectOptions{Prefix: "i/", KeysOnly: true, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range in.KV {
			if id, ok := strings.CutSuffix(strings.TrimPrefix(kv.Key, "i/"), "/meta"); ok {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids
}
