package crash

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost/test/internal/proc"
)

// toldBound is how soon after SIGTERM a server whose clients only wait (a
// long poll, an idle WebSocket) must have exited: they are told at once,
// so it does not wait for them. A behaviour bound far below the waits (60
// s), not a performance figure: it leaves room for a loaded machine.
const toldBound = 10 * time.Second

// A SIGTERM tells the clients that wait before the events drain: an open
// WebSocket gets its close frame (1001) at once, a long poll on a
// workflow instance is answered with the instance's current status, and
// the server exits 0 soon after, well within --shutdown-timeout, leaving a
// clean data directory: the next start reports no unclean shutdown.
func TestLifecycle_ShutdownTellsWaitingClientsFirst(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := startServerWith(t, spec(proc.Roost(t), "serve", "--addr", "127.0.0.1:0", "--data", dir,
		"--shutdown-timeout", "3s", "--log-level", "debug"))
	if status, body, err := post(srv, "/workflows/order/instances", []byte(`{"id":"o1","params":{"customer":"ann","item":"soup","cents":1200}}`)); err != nil || status != http.StatusCreated {
		t.Fatalf("create o1: %d %s %v", status, body, err)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+srv.addr+"/room/lobby", nil)
	if err != nil {
		t.Fatalf("dial the room: %v", err)
	}
	defer ws.Close()

	poll := make(chan pollResult, 1)
	go func() { poll <- longPoll(srv, "/workflows/order/instances/o1?wait=60s") }()
	waitMetric(t, srv, "roost_workflow_waits", 1)

	sent := time.Now()
	srv.Signal(t, syscall.SIGTERM)
	ws.SetReadDeadline(time.Now().Add(toldBound))
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("the socket ended with %v, want a close frame 1001 (going away)", err)
	}
	select {
	case p := <-poll:
		if p.err != nil || p.status != http.StatusOK || !strings.Contains(p.body, `"id":"o1"`) || !unfinished(p.body) {
			t.Errorf("the long poll got %d %s (%v), want 200 with the instance's current status (not finished: it sleeps an hour)", p.status, p.body, p.err)
		}
	case <-time.After(toldBound):
		t.Errorf("the long poll had no answer %v after SIGTERM", toldBound)
	}
	select {
	case <-srv.Exited():
		took := time.Since(sent)
		t.Logf("exited %v after SIGTERM (%v)", took.Round(time.Millisecond), srv.Err())
		if srv.Err() != nil {
			t.Fatalf("roost exited with %v, want status 0; stderr:\n%s", srv.Err(), srv.Tail())
		}
	case <-time.After(toldBound):
		t.Fatalf("roost had not exited %v after SIGTERM; stderr:\n%s", toldBound, srv.Tail())
	}
	again := startServerWith(t, spec(proc.Roost(t), "serve", "--addr", "127.0.0.1:0", "--data", dir, "--log-level", "debug"))
	again.term(t)
	if strings.Contains(again.Output(), "unclean") {
		t.Fatalf("the next start reported an unclean shutdown:\n%s", again.Tail())
	}
}

// A second server on a data directory that a running server holds fails
// at once with an error naming the holder, and changes nothing: the
// running one keeps serving.
func TestLifecycle_SecondServerOnTheSameDataDirectoryFailsAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := startServer(t, dir)
	if out := increment(first, "a"); out.kind != outAcked {
		t.Fatalf("increment: %+v", out)
	}
	before := names(t, dir)
	lock, err := os.ReadFile(filepath.Join(dir, "roost.lock"))
	if err != nil {
		t.Fatal(err)
	}

	out, err := runToEnd(t, proc.Roost(t), "serve", "--addr", "127.0.0.1:0", "--data", dir)
	if err == nil {
		t.Fatalf("the second server ran; output:\n%s", out)
	}
	pid := strconv.Itoa(first.PID())
	if !strings.Contains(out, "in use") || !strings.Contains(out, "pid "+pid) {
		t.Errorf("the second server's error does not say the directory is in use by pid %s:\n%s", pid, out)
	}
	if strings.Contains(out, "catalog") || strings.Contains(out, "listening") {
		t.Errorf("the second server did work before it failed:\n%s", out)
	}
	if after := names(t, dir); !equal(before, after) {
		t.Errorf("the files changed: before %v, after %v", before, after)
	}
	if now, err := os.ReadFile(filepath.Join(dir, "roost.lock")); err != nil || string(now) != string(lock) {
		t.Errorf("the lock file changed from %q to %q (%v)", lock, now, err)
	}
	if out := increment(first, "a"); out.kind != outAcked || out.value != 2 {
		t.Errorf("the first server after the second's attempt: %+v, want value 2", out)
	}
	first.term(t)
}

// A second server on a port that is taken fails before it touches its
// data directory: it binds the port first.
func TestLifecycle_BusyPortFailsBeforeTheDataDirectory(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "data")
	out, err := runToEnd(t, proc.Roost(t), "serve", "--addr", ln.Addr().String(), "--data", dir)
	if err == nil || !strings.Contains(out, "listen") {
		t.Fatalf("serve on a busy port: %v, output:\n%s", err, out)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the data directory was made (%v); output:\n%s", err, out)
	}
}

// unfinished reports whether a status body shows an instance that has not
// ended.
func unfinished(body string) bool {
	for _, st := range []string{"queued", "running", "sleeping"} {
		if strings.Contains(body, `"status":"`+st+`"`) {
			return true
		}
	}
	return false
}

type pollResult struct {
	status int
	body   string
	err    error
}

// longPoll GETs path with no client timeout but the test's bound.
func longPoll(srv *server, path string) pollResult {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.addr+path, nil)
	if err != nil {
		return pollResult{err: err}
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return pollResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return pollResult{status: resp.StatusCode, body: string(b), err: err}
}

// waitMetric polls the server's metrics until the gauge name reads want,
// for at most listenTimeout: the server exposes no other signal that a
// request reached it and waits.
func waitMetric(t *testing.T, srv *server, name string, want int) {
	t.Helper()
	line := name + " " + strconv.Itoa(want)
	deadline := time.Now().Add(listenTimeout)
	for {
		resp, err := srv.client.Get("http://" + srv.addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for l := range strings.Lines(string(b)) {
				if strings.TrimSpace(l) == line {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("metric %s never read %d (%v)", name, want, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runToEnd runs a command that must end by itself within exitTimeout and
// returns its combined output.
func runToEnd(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exitTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not end within %v; output:\n%s", name, args, exitTimeout, out)
	}
	return string(out), err
}

// names lists the files and directories beneath dir, without the spares
// (the running server refills them in the background).
func names(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".spare" {
			return fs.SkipDir
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }
