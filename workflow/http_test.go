package workflow_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/roosttest"
	"github.com/roost-dev/roost/workflow"
)

// call makes an HTTP request to the env's app and decodes the JSON answer.
func call(t *testing.T, v *roosttest.Env, method, path, body string) (int, map[string]any) {
	t.Helper()
	status, b := v.HTTP(method, path, body)
	var out map[string]any
	if err := json.Unmarshal([]byte(b), &out); err != nil {
		t.Fatalf("%s %s: %d %q is not JSON: %v", method, path, status, b, err)
	}
	return status, out
}

func code(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestHTTPAPI(t *testing.T) {
	v := newEnv(t, func(e *workflow.Engine) {
		workflow.Define(e, "add", func(ctx workflow.Context, n int) (int, error) {
			n, err := workflow.Step(ctx, "one", func(workflow.StepContext) (int, error) { return n + 1, nil })
			if err != nil {
				return 0, err
			}
			type bump struct{ By int }
			b, err := workflow.WaitForEvent[bump](ctx, "bump", "bump", time.Hour)
			return n + b.By, err
		})
	})
	// The env mounts the engine's API at workflow.Prefix.

	status, out := call(t, v, "POST", "/workflows/add/instances", `{"id":"h1","params":1}`)
	if status != http.StatusCreated || out["id"] != "h1" {
		t.Fatalf("create: %d %v", status, out)
	}
	status, out = call(t, v, "POST", "/workflows/add/instances", `{"id":"h1","params":5}`)
	if status != http.StatusOK || out["id"] != "h1" {
		t.Fatalf("create again: %d %v", status, out)
	}
	// The wait ends before the instance does: the answer is its status then.
	status, out = call(t, v, "GET", "/workflows/add/instances/h1?wait=50ms", "")
	if status != http.StatusOK || out["status"] == "complete" {
		t.Fatalf("status: %d %v", status, out)
	}
	status, out = call(t, v, "POST", "/workflows/add/instances/h1/events/bump", `{"By":10}`)
	if status != http.StatusAccepted {
		t.Fatalf("event: %d %v", status, out)
	}
	status, out = call(t, v, "GET", "/workflows/add/instances/h1?wait=true", "")
	if status != http.StatusOK || out["status"] != "complete" || out["output"] != 12.0 {
		t.Fatalf("status after the event: %d %v", status, out)
	}
	if steps := out["steps"].([]any); len(steps) != 2 || steps[1].(map[string]any)["kind"] != "event" {
		t.Fatalf("steps %v", out["steps"])
	}
	status, out = call(t, v, "GET", "/workflows/add/instances?status=complete", "")
	if list := out["instances"].([]any); status != http.StatusOK || len(list) != 1 || list[0].(map[string]any)["id"] != "h1" {
		t.Fatalf("list: %d %v", status, out)
	}

	// Create and wait in one request; then control operations.
	status, out = call(t, v, "POST", "/workflows/add/instances?wait=10ms", `{"id":"h2","params":2}`)
	if status != http.StatusCreated || out["id"] != "h2" || out["status"] == nil {
		t.Fatalf("create with wait: %d %v", status, out)
	}
	for deadline := time.Now().Add(20 * time.Second); out["status"] != "waiting"; {
		if time.Now().After(deadline) {
			t.Fatalf("h2 never waited: %v", out)
		}
		_, out = call(t, v, "GET", "/workflows/add/instances/h2", "")
	}
	status, out = call(t, v, "POST", "/workflows/add/instances/h2/pause", "")
	if status != http.StatusOK || out["status"] != "paused" {
		t.Fatalf("pause: %d %v", status, out)
	}
	status, out = call(t, v, "POST", "/workflows/add/instances/h2/terminate", "")
	if status != http.StatusOK || out["status"] != "terminated" {
		t.Fatalf("terminate: %d %v", status, out)
	}

	for _, tt := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/workflows/nope/instances", `{}`, 404, "unknown_workflow"},
		{"GET", "/workflows/add/instances/missing", "", 404, "unknown_instance"},
		{"GET", "/workflows/add/instances/bad%20id", "", 400, "bad_request"},
		{"POST", "/workflows/add/instances", `{"id":"h3","params":"not a number"}`, 400, "bad_request"},
		{"POST", "/workflows/add/instances", `{"id":"h3","params":1,"extra":1}`, 400, "bad_request"},
		{"POST", "/workflows/add/instances", `not json`, 400, "bad_request"},
		{"POST", "/workflows/add/instances/h2/resume", "", 409, "invalid_state"},
		{"POST", "/workflows/add/instances/h2/events/bump", `{}`, 409, "invalid_state"},
		{"POST", "/workflows/add/instances/h2/explode", "", 404, "not_found"},
		{"GET", "/workflows/add/instances/h1?wait=forever", "", 400, "bad_request"},
		{"GET", "/workflows/add/instances?limit=5000", "", 400, "bad_request"},
		{"POST", "/workflows/add/instances/h1/events/bump", `{"By":` + strings.Repeat("1", workflow.MaxPayloadBytes) + `}`, 413, "body_too_large"},
	} {
		status, out := call(t, v, tt.method, tt.path, tt.body)
		if status != tt.status || code(out) != tt.code {
			t.Errorf("%s %s: %d %s, want %d %s", tt.method, tt.path, status, code(out), tt.status, tt.code)
		}
	}
}

// TestHTTPAPI_RefusesDotSegmentInstanceIDs: an instance called "." or ".."
// could never be reached again (HTTP paths clean those segments away, into
// another route), so creation refuses them, over HTTP and in Go.
func TestHTTPAPI_RefusesDotSegmentInstanceIDs(t *testing.T) {
	var add *workflow.Workflow[int, int]
	v := newEnv(t, func(e *workflow.Engine) {
		add = workflow.Define(e, "add", func(ctx workflow.Context, n int) (int, error) { return n + 1, nil })
	})
	for _, id := range []string{".", ".."} {
		status, out := call(t, v, "POST", "/workflows/add/instances", `{"id":"`+id+`","params":1}`)
		if status != http.StatusBadRequest || code(out) != "bad_request" || !strings.Contains(fmt.Sprint(out), "path segments") {
			t.Errorf("create %q over HTTP: %d %v, want 400 bad_request naming the rule", id, status, out)
		}
		if _, _, err := add.Create(t.Context(), id, 1); roost.ErrorCode(err) != "bad_request" {
			t.Errorf("Create(%q) in Go: %v, want bad_request", id, err)
		}
	}
	if _, out := call(t, v, "GET", "/workflows/add/instances", ""); len(out["instances"].([]any)) != 0 {
		t.Fatalf("instances after refused creations: %v", out)
	}
	// IDs that merely hold dots are fine, and reachable.
	for _, id := range []string{"...", "a.b", ".x"} {
		if status, out := call(t, v, "POST", "/workflows/add/instances", `{"id":"`+id+`","params":1}`); status != http.StatusCreated {
			t.Fatalf("create %q: %d %v", id, status, out)
		}
		if status, out := call(t, v, "GET", "/workflows/add/instances/"+id+"?wait=true", ""); status != http.StatusOK || out["id"] != id {
			t.Fatalf("status of %q: %d %v", id, status, out)
		}
	}
}
