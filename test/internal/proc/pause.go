package proc

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/clock"
)

// pollEvery is the interval of the bounded polls below.
const pollEvery = 10 * time.Millisecond

// Stop pauses the process with SIGSTOP and waits until the kernel reports
// it stopped. It keeps its sockets: peers see a silent process, as in a
// long GC pause. The cleanup's SIGKILL ends a stopped process too.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	p.Signal(t, syscall.SIGSTOP)
	p.awaitState(t, "stopped", func(s byte) bool { return s == 'T' })
}

// Cont resumes a process paused by Stop with SIGCONT and waits until it is
// no longer stopped.
func (p *Process) Cont(t testing.TB) {
	t.Helper()
	p.Signal(t, syscall.SIGCONT)
	p.awaitState(t, "running again", func(s byte) bool { return s != 'T' })
}

// awaitState polls the process's state in /proc until ok accepts it, for
// at most ExitTimeout.
func (p *Process) awaitState(t testing.TB, what string, ok func(state byte) bool) {
	t.Helper()
	deadline := time.Now().Add(ExitTimeout)
	for {
		s, err := p.state()
		if err == nil && ok(s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not %s within %v (state %c, %v)", p, what, ExitTimeout, s, err)
		}
		clock.Sleep(t.Context(), pollEvery)
	}
}

// state returns the state letter of /proc/PID/stat (R, S, T, Z…).
func (p *Process) state() (byte, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID()))
	if err != nil {
		return 0, err
	}
	// The command name in parentheses may hold spaces; the state follows ") ".
	i := strings.LastIndex(string(b), ") ")
	if i < 0 || i+2 >= len(b) {
		return 0, fmt.Errorf("parse /proc/%d/stat: %q", p.PID(), b)
	}
	return b[i+2], nil
}

// WaitReady polls GET URL()+path until it answers 200, failing the test
// if the process exits first or d passes. The process must have logged its
// listening line (see Start).
func (p *Process) WaitReady(t testing.TB, path string, d time.Duration) {
	t.Helper()
	WaitHTTP(t, p.URL()+path, d, p.exited, p.Tail)
}

// WaitHTTP polls GET url until it answers 200, for at most d. It fails the
// test when d passes or when gone (may be nil) is closed; tail (may be nil)
// adds a process's output to the failure message.
func WaitHTTP(t testing.TB, url string, d time.Duration, gone <-chan struct{}, tail func() string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(d)
	var last string
	for {
		status, err := get(client, url)
		if status == http.StatusOK {
			return
		}
		last = fmt.Sprintf("%d %v", status, err)
		select {
		case <-gone:
			t.Fatalf("GET %s: the process exited (last answer %s); output:\n%s", url, last, tailOf(tail))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s not 200 within %v (last answer %s); output:\n%s", url, d, last, tailOf(tail))
		}
		clock.Sleep(t.Context(), pollEvery)
	}
}

// get returns the status of GET url, its body drained.
func get(c *http.Client, url string) (int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, err
}

func tailOf(tail func() string) string {
	if tail == nil {
		return "(none)"
	}
	return tail()
}
