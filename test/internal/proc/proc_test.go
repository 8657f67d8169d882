package proc_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roost-dev/roost/test/internal/proc"
)

func TestMain(m *testing.M) {
	code := proc.Main(m)
	if err := goleak.Find(); code == 0 && err != nil {
		fmt.Fprintln(os.Stderr, "goleak:", err)
		code = 1
	}
	os.Exit(code)
}

// serve starts roost serve on a free port and a temporary data directory.
func serve(t *testing.T, spec proc.Spec) *proc.Process {
	t.Helper()
	spec.Path = proc.Roost(t)
	spec.Args = append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, spec.Args...)
	return proc.Start(t, spec)
}

func TestProcess_StartsServesAndStopsCleanly(t *testing.T) {
	t.Parallel()
	p := serve(t, proc.Spec{})
	if !strings.HasPrefix(p.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr() = %q, want 127.0.0.1:PORT", p.Addr())
	}
	p.WaitReady(t, "/metrics", proc.ListenTimeout)
	p.Term(t)
	if log := p.Log(t); !strings.Contains(log, "msg=listening") {
		t.Errorf("the log file misses the listening line:\n%s", log)
	}
}

func TestProcess_StoppedProcessAnswersOnlyAfterCont(t *testing.T) {
	t.Parallel()
	p := serve(t, proc.Spec{})
	p.Stop(t)
	c := &http.Client{Timeout: 300 * time.Millisecond}
	defer c.CloseIdleConnections()
	if resp, err := c.Get(p.URL() + "/metrics"); err == nil {
		resp.Body.Close()
		t.Fatalf("a stopped process answered %d", resp.StatusCode)
	}
	p.Cont(t)
	p.WaitReady(t, "/metrics", proc.ListenTimeout)
}

func TestProcess_KillEndsBySIGKILL(t *testing.T) {
	t.Parallel()
	p := serve(t, proc.Spec{})
	p.Kill(t)
	var ee interface{ ExitCode() int }
	if !errors.As(p.Err(), &ee) || ee.ExitCode() != -1 {
		t.Errorf("Err() = %v, want a death by signal", p.Err())
	}
}

func TestProcess_CleanupKillsAProcessTheTestLeftRunning(t *testing.T) {
	t.Parallel()
	var p *proc.Process
	t.Run("leaves it", func(t *testing.T) { p = serve(t, proc.Spec{}) })
	select {
	case <-p.Exited():
	default:
		t.Fatal("the process still runs after its test ended")
	}
	if err := syscall.Kill(p.PID(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("kill -0 %d = %v, want ESRCH", p.PID(), err)
	}
}

func TestProcess_CleanupKillsAStoppedProcess(t *testing.T) {
	t.Parallel()
	var p *proc.Process
	t.Run("stops it", func(t *testing.T) {
		p = serve(t, proc.Spec{})
		p.Stop(t)
	})
	if s, ok := signaled(p.Err()); !ok || s != syscall.SIGKILL {
		t.Fatalf("Err() = %v, want killed", p.Err())
	}
}

func TestProcess_RestartAppendsToTheSameLog(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "node.log")
	data := t.TempDir()
	spec := proc.Spec{Path: proc.Roost(t), Args: []string{"serve", "--addr", "127.0.0.1:0", "--data", data}, LogFile: log}
	proc.Start(t, spec).Kill(t)
	p := proc.Start(t, spec)
	p.Term(t)
	whole, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(whole), "msg=listening"); n != 2 {
		t.Errorf("the log file holds %d listening lines, want 2 (one per run)", n)
	}
	if n := strings.Count(p.Log(t), "msg=listening"); n != 1 {
		t.Errorf("the second run's Log holds %d listening lines, want 1 (its own part of the file)", n)
	}
}

func TestProcess_MaxOpenFilesLimitsTheProcess(t *testing.T) {
	t.Parallel()
	p := serve(t, proc.Spec{MaxOpenFiles: 2000})
	b, err := os.ReadFile("/proc/" + itoa(p.PID()) + "/limits")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "Max open files") {
			if f := strings.Fields(line); f[3] != "2000" {
				t.Errorf("limits line %q, want a soft limit of 2000", line)
			}
			return
		}
	}
	t.Fatalf("no open files limit in:\n%s", b)
}

func TestProcess_EnvReachesTheProcess(t *testing.T) {
	t.Parallel()
	p := proc.Spawn(t, proc.Spec{Path: "sh", Args: []string{"-c", `echo "value=$ROOST_PROC_TEST"`}, Env: []string{"ROOST_PROC_TEST=42"}})
	if err := p.Wait(t, proc.ExitTimeout); err != nil {
		t.Fatal(err)
	}
	if got := p.Tail(); got != "value=42\n" {
		t.Errorf("output %q, want value=42", got)
	}
}

func TestListenAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, line, want string }{
		{"text", `time=2026-12-04T00:00:00Z level=INFO msg=listening addr=127.0.0.1:4100 data=/tmp/x`, "127.0.0.1:4100"},
		{"text quoted", `level=INFO msg=listening addr="[::1]:80"`, "[::1]:80"},
		{"json", `{"time":"x","level":"INFO","msg":"listening","addr":"127.0.0.1:9","data":"d"}`, "127.0.0.1:9"},
		{"other message", `level=INFO msg=stopped addr=127.0.0.1:1`, ""},
	} {
		got, ok := proc.ListenAddr(tc.line)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: ListenAddr = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
}

func signaled(err error) (syscall.Signal, bool) {
	var ee interface{ Sys() any }
	if !errors.As(err, &ee) {
		return 0, false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ws.Signal(), ok && ws.Signaled()
}

func itoa(n int) string { return strconv.Itoa(n) }
