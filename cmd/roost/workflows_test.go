package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/orders"
	"github.com/roost-dev/roost/workflow"
)

// workflowServer is a real app with the built-in workflows served on
// loopback, and the number of requests it got.
type workflowServer struct {
	*httptest.Server
	requests atomic.Int64
}

// newWorkflowServer serves an app with the order and threestep workflows
// until the test ends. The order workflow retries its charge after 200 and
// 400 ms, then sleeps an hour, so that its instances stay sleeping.
func newWorkflowServer(t testing.TB) *workflowServer {
	t.Helper()
	app, err := roost.Open(context.Background(), roost.Config{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := workflow.New(app)
	orders.Define(e, orders.Config{Sleep: time.Hour, RetryDelay: 200 * time.Millisecond})
	app.Handle(workflow.Prefix, e.Handler())
	ws := &workflowServer{}
	h := app.Handler()
	ws.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		ws.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("close workflows: %v", err)
		}
		if err := app.Close(ctx); err != nil {
			t.Errorf("close app: %v", err)
		}
	})
	return ws
}

// wfStatus runs `workflows status --json` and decodes its output.
func wfStatus(t testing.TB, args ...string) workflow.Status {
	t.Helper()
	var st workflow.Status
	out := mustCLI(t, append([]string{"workflows", "status", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st
}

func TestWorkflows_StartStatusAndLs(t *testing.T) {
	t.Parallel()
	srv := newWorkflowServer(t)
	s := "--server=" + srv.URL

	out := mustCLI(t, "workflows", "start", "threestep", "--id", "t-1", "--params", "1", "--wait", "30s", s)
	for _, want := range []string{"status    complete", "output    4", "NAME   KIND  STATE  ATTEMPTS", "three  step  done   1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("start --wait output lacks %q:\n%s", want, out)
		}
	}
	st := wfStatus(t, "threestep", "t-1", s)
	if st.ID != "t-1" || st.Status != workflow.StatusComplete || string(st.Output) != "4" || len(st.Steps) != 3 {
		t.Fatalf("status --json: %+v", st)
	}
	if out := mustCLI(t, "workflows", "status", "threestep", "t-1", s); !strings.Contains(out, "steps (3)") {
		t.Fatalf("status output:\n%s", out)
	}

	// An existing ID: the instance is left as it is.
	out, errOut, err := roostCLI(t, "workflows", "start", "threestep", "--id", "t-1", "--params", "7", s)
	if err != nil || out != "t-1\n" || !strings.Contains(errOut, "already existed") {
		t.Fatalf("start of an existing ID: %v\n%s\n%s", err, out, errOut)
	}
	id := strings.TrimSpace(mustCLI(t, "workflows", "start", "threestep", "--params", "10", s))
	if st := wfStatus(t, "threestep", id, "--wait", "30s", s); string(st.Output) != "13" {
		t.Fatalf("status --wait of %s: %+v", id, st)
	}
	mustCLI(t, "workflows", "start", "threestep", "--id", "t-2", "--params", "1", "--wait", "30s", s)

	out = mustCLI(t, "workflows", "ls", "threestep", s)
	for _, want := range []string{"ID", "STATUS", "CREATED", "UPDATED", "t-1  ", "t-2  ", id} {
		if !strings.Contains(out, want) {
			t.Fatalf("ls output lacks %q:\n%s", want, out)
		}
	}
	if out := mustCLI(t, "workflows", "ls", "threestep", "--status", "complete", s); strings.Count(out, "complete") != 3 {
		t.Fatalf("ls --status complete:\n%s", out)
	}
	if out := mustCLI(t, "workflows", "ls", "threestep", "--status", "running", s); strings.Contains(out, "t-1") {
		t.Fatalf("ls --status running shows a complete instance:\n%s", out)
	}
	out, errOut, err = roostCLI(t, "workflows", "ls", "threestep", "--limit", "1", s)
	if err != nil || strings.Count(out, "complete") != 1 || !strings.Contains(errOut, "next page: --cursor ") {
		t.Fatalf("ls --limit 1: %v\n%s\n%s", err, out, errOut)
	}
	cursor := strings.Fields(strings.TrimPrefix(errOut, "next page: --cursor "))[0]
	if out := mustCLI(t, "workflows", "ls", "threestep", "--limit", "1", "--cursor", cursor, s); strings.Count(out, "complete") != 1 || strings.Contains(out, "t-1") == strings.Contains(out, "t-2") {
		t.Fatalf("ls --cursor %s:\n%s", cursor, out)
	}
	var page workflow.Page
	if err := json.Unmarshal([]byte(mustCLI(t, "workflows", "ls", "threestep", "--limit", "1", "--all", "--json", s)), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Instances) != 3 || page.Cursor != "" {
		t.Fatalf("ls --all --limit 1: %+v", page)
	}

	var started struct{ ID, Workflow string }
	if err := json.Unmarshal([]byte(mustCLI(t, "workflows", "start", "threestep", "--id", "t-3", "--json", s)), &started); err != nil {
		t.Fatal(err)
	}
	if started.ID != "t-3" || started.Workflow != "threestep" {
		t.Fatalf("start --json: %+v", started)
	}
}

func TestWorkflows_PauseResumeTerminateAndEvents(t *testing.T) {
	t.Parallel()
	srv := newWorkflowServer(t)
	s := "--server=" + srv.URL
	mustCLI(t, "workflows", "start", "order", "--id", "o-1", "--params", `{"customer":"ann","item":"soup","cents":900}`, s)
	// The charge fails twice, is retried, then the order sleeps an hour.
	// The bound is generous: a retry whose alarm is lost runs at the
	// instance's 30 s lease.
	deadline := time.Now().Add(2 * time.Minute)
	for wfStatus(t, "order", "o-1", s).Status != workflow.StatusSleeping {
		if time.Now().After(deadline) {
			t.Fatalf("the order is not sleeping after 2 min: %+v", wfStatus(t, "order", "o-1", s))
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := mustCLI(t, "workflows", "status", "order", "o-1", s)
	for _, want := range []string{"status    sleeping", "charge   step   done      3", "prepare  sleep  sleeping  -", "until "} {
		if !strings.Contains(out, want) {
			t.Fatalf("status output lacks %q:\n%s", want, out)
		}
	}

	if out := mustCLI(t, "workflows", "pause", "order", "o-1", s); !strings.Contains(out, "status    paused") {
		t.Fatalf("pause output:\n%s", out)
	}
	if out := mustCLI(t, "workflows", "ls", "order", "--status", "paused", s); !strings.Contains(out, "o-1") {
		t.Fatalf("ls --status paused:\n%s", out)
	}
	wantCLIError(t, "unknown_instance: ", "workflows", "resume", "order", "o-2", s)
	if out := mustCLI(t, "workflows", "resume", "order", "o-1", s); strings.Contains(out, "paused") {
		t.Fatalf("resume output:\n%s", out)
	}
	wantCLIError(t, "invalid_state: ", "workflows", "resume", "order", "o-1", s) // not paused
	mustCLI(t, "workflows", "event", "order", "o-1", "note", s)                  // a payload of null, for no one
	if out := mustCLI(t, "workflows", "terminate", "order", "o-1", s); !strings.Contains(out, "status    terminated") {
		t.Fatalf("terminate output:\n%s", out)
	}
	if st := wfStatus(t, "order", "o-1", s); st.Status != workflow.StatusTerminated || st.Finished == nil {
		t.Fatalf("status after terminate: %+v", st)
	}
	// The sleep it was in is over for good: not "sleeping" any more.
	if out := mustCLI(t, "workflows", "status", "order", "o-1", s); !strings.Contains(out, "prepare  sleep  canceled") || strings.Contains(out, "sleeping") {
		t.Fatalf("status after terminate:\n%s", out)
	}
	wantCLIError(t, "invalid_state: ", "workflows", "terminate", "order", "o-1", s)
	wantCLIError(t, "invalid_state: ", "workflows", "event", "order", "o-1", "delivered", `{"by":"bob"}`, s)
}

func TestWorkflows_ErrorsShowTheirCode(t *testing.T) {
	t.Parallel()
	srv := newWorkflowServer(t)
	s := "--server=" + srv.URL
	mustCLI(t, "workflows", "start", "threestep", "--id", "done", "--params", "1", "--wait", "30s", s)
	wantCLIError(t, "invalid_state: ", "workflows", "terminate", "threestep", "done", s)
	wantCLIError(t, "invalid_state: ", "workflows", "pause", "threestep", "done", s)
	wantCLIError(t, "unknown_instance: ", "workflows", "event", "threestep", "nobody", "go", `{"a":1}`, s)
	wantCLIError(t, "unknown_instance: ", "workflows", "status", "threestep", "nobody", s)
	wantCLIError(t, "unknown_workflow: ", "workflows", "ls", "nope", s)
	wantCLIError(t, "bad_request: ", "workflows", "start", "threestep", "--params", `"one"`, s)
	wantCLIError(t, "bad_request: ", "workflows", "ls", "threestep", "--status", "asleep", s)
	wantCLIError(t, "bad_request: ", "workflows", "start", "threestep", "--id", "a b", s)
	// Path segments are escaped: a slash in an ID is the server's to refuse.
	wantCLIError(t, "bad_request: ", "workflows", "status", "threestep", "a/b", s)
	wantCLIError(t, "bad_request: ", "workflows", "ls", "threestep", "--server", "not a url")

	before := srv.requests.Load()
	wantCLIError(t, "--params is not JSON", "workflows", "start", "threestep", "--params", "{1", s)
	wantCLIError(t, "the payload is not JSON", "workflows", "event", "threestep", "done", "go", "{nope", s)
	wantCLIError(t, "--wait must not be negative", "workflows", "status", "threestep", "done", "--wait", "-1s", s)
	if n := srv.requests.Load() - before; n != 0 {
		t.Fatalf("bad input sent %d requests", n)
	}
}

func TestWorkflows_Purge(t *testing.T) {
	t.Parallel()
	srv := newWorkflowServer(t)
	s := "--server=" + srv.URL
	for _, id := range []string{"p-1", "p-2"} {
		mustCLI(t, "workflows", "start", "threestep", "--id", id, "--params", "1", "--wait", "30s", s)
	}
	mustCLI(t, "workflows", "start", "order", "--id", "o-1", "--params", `{"customer":"ann","item":"soup","cents":900}`, s)
	wantCLIError(t, `"older-than" not set`, "workflows", "purge", "threestep", s)
	wantCLIError(t, "bad_request: ", "workflows", "purge", "threestep", "--older-than", "0s", "--status", "running", s)
	wantCLIError(t, "unknown_workflow: ", "workflows", "purge", "nope", "--older-than", "0s", s)
	if out := mustCLI(t, "workflows", "purge", "threestep", "--older-than", "1h", s); !strings.Contains(out, "purged 0 finished instances of threestep") {
		t.Fatalf("purge --older-than 1h:\n%s", out)
	}
	if out := mustCLI(t, "workflows", "purge", "threestep", "--older-than", "0s", "--status", "complete", s); !strings.Contains(out, "purged 2 finished instances of threestep") {
		t.Fatalf("purge --older-than 0s:\n%s", out)
	}
	wantCLIError(t, "unknown_instance: ", "workflows", "status", "threestep", "p-1", s)
	if out := mustCLI(t, "workflows", "purge", "order", "--older-than", "0s", s); !strings.Contains(out, "purged 0 ") {
		t.Fatalf("purge of a running order:\n%s", out)
	}
	wfStatus(t, "order", "o-1", s) // still there
}

// Not parallel: it sets the process's environment.
func TestWorkflows_ServerFromEnvironment(t *testing.T) {
	srv := newWorkflowServer(t)
	t.Setenv("ROOST_SERVER", srv.URL)
	if out := mustCLI(t, "workflows", "start", "threestep", "--id", "env", "--params", "0", "--wait", "30s"); !strings.Contains(out, "output    3") {
		t.Fatalf("start with ROOST_SERVER:\n%s", out)
	}
	t.Setenv("ROOST_SERVER", "http://127.0.0.1:1")
	if out := mustCLI(t, "workflows", "ls", "threestep", "--server", srv.URL); !strings.Contains(out, "env") {
		t.Fatalf("ls with --server over ROOST_SERVER:\n%s", out)
	}
	wantCLIError(t, "reach the Roost server at http://127.0.0.1:1", "workflows", "ls", "threestep")
}
