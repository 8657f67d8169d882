// Package hardening runs the built roost binary as a subprocess and attacks
// it the way an anonymous client can (issue 12): bodies that declare much
// and send little, connections that idle or never end, more connections
// than the server may hold, paths that routers would rewrite. Each test
// talks raw HTTP/1.1 over 127.0.0.1 and reads the server's memory and file
// descriptors from /proc.
package hardening

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/proc"
)

// answerWait bounds every wait for what the server owes (an answer, a
// close): far above the timeouts the tests pass, so that only a server that
// never does it fails.
const answerWait = 30 * time.Second

// TestMain builds roost once, on first use, and fails the package on a
// leaked goroutine.
func TestMain(m *testing.M) { os.Exit(proc.Main(m)) }

// server is a running roost serve.
type server struct {
	*proc.Process
	addr string
}

// start runs `roost serve` on a free loopback port and a temporary data
// directory with the extra flags, under an open-file limit when fdCap > 0,
// and waits for its "listening" line. The server is killed at cleanup.
func start(t testing.TB, fdCap int, flags ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, flags...)
	p := proc.Start(t, proc.Spec{Path: proc.Roost(t), Args: args, MaxOpenFiles: fdCap})
	return &server{Process: p, addr: p.Addr()}
}

// rss returns the server's resident memory in bytes (VmRSS).
func (s *server) rss(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.PID()))
	if err != nil {
		t.Fatalf("read the server's status: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in the server's status")
	return 0
}

// fds returns the number of the server's open file descriptors.
func (s *server) fds(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.PID()))
	if err != nil {
		t.Fatalf("count the server's open files: %v", err)
	}
	return len(entries)
}

// client is one raw connection to the server.
type client struct {
	c  net.Conn
	br *bufio.Reader
}

// dial connects to the server; the connection is closed at cleanup.
func (s *server) dial(t testing.TB) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, answerWait)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{c: c, br: bufio.NewReader(c)}
}

// answer is one HTTP answer, read in full.
type answer struct {
	status int
	header http.Header
	body   string
}

// send writes raw request bytes.
func (c *client) send(t testing.TB, format string, args ...any) {
	t.Helper()
	if _, err := fmt.Fprintf(c.c, format, args...); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// read reads the next answer; a HEAD's has no body.
func (c *client) read(head bool) (answer, error) {
	c.c.SetReadDeadline(time.Now().Add(answerWait))
	req := &http.Request{Method: http.MethodGet}
	if head {
		req.Method = http.MethodHead
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}, err
}

// do sends a request without a body and reads its answer.
func (c *client) do(t testing.TB, method, path string) answer {
	t.Helper()
	c.send(t, "%s %s HTTP/1.1\r\nHost: roost\r\n\r\n", method, path)
	a, err := c.read(method == http.MethodHead)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

// closedByServer reports whether the server closes the connection within
// answerWait, sending nothing more. A reset counts as a close: the kernel
// sends one for a socket closed with input unread, which a client that keeps
// sending after its answer (a never-ending body) causes.
func (c *client) closedByServer() error {
	c.c.SetReadDeadline(time.Now().Add(answerWait))
	n, err := io.Copy(io.Discard, c.br)
	switch {
	case errors.Is(err, syscall.ECONNRESET) && n == 0:
		return nil
	case err != nil:
		return fmt.Errorf("not closed: %w", err)
	case n > 0:
		return fmt.Errorf("%d more bytes before the close", n)
	}
	return nil
}

// checkError fails the test unless a is Roost's JSON error with status and
// code.
func checkError(t testing.TB, a answer, status int, code string) {
	t.Helper()
	want := fmt.Sprintf(`{"error":{"code":%q,`, code)
	if a.status != status || !strings.HasPrefix(a.body, want) || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("answer %d %q (Location %q), want %d with code %s", a.status, a.body, a.header.Get("Location"), status, code)
	}
}
