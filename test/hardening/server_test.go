// Package hardening runs the built roost binary as a subprocess and attacks
// it the way an anonymous client can (issue 12): bodies that declare much
// and send little, connections that idle or never end, more connections
// than the server may hold, paths that routers would rewrite. Each test
// talks raw HTTP/1.1 over 127.0.0.1 and reads the server's memory and file
// descriptors from /proc.
package hardening

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// roostBin is the binary TestMain builds from ./cmd/roost.
var roostBin string

const (
	listenTimeout = 60 * time.Second // longest wait for the "listening" line
	// answerWait bounds every wait for what the server owes (an answer, a
	// close): far above the timeouts the tests pass, so that only a server
	// that never does it fails.
	answerWait = 30 * time.Second
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "roost-hardening-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "hardening: make temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	roostBin = filepath.Join(dir, "roost")
	build := exec.Command("go", "build", "-o", roostBin, "github.com/roost-dev/roost/cmd/roost")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "hardening: go build ./cmd/roost failed: %v\n%s\n", err, out)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "hardening: goroutine leak:", err)
			return 1
		}
	}
	return code
}

// server is a running roost serve.
type server struct {
	cmd    *exec.Cmd
	addr   string
	logs   *logBuffer
	exited chan struct{}
}

// start runs `roost serve` on a free loopback port and a temporary data
// directory with the extra flags, under an open-file limit when fdCap > 0,
// and waits for its "listening" line. The server is killed at cleanup.
func start(t testing.TB, fdCap int, flags ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, flags...)
	cmd := exec.Command(roostBin, args...)
	if fdCap > 0 {
		cmd = exec.Command("bash", append([]string{"-c", "ulimit -n " + strconv.Itoa(fdCap) + ` && exec "$0" "$@"`, roostBin}, args...)...)
	}
	s := &server{cmd: cmd, logs: &logBuffer{}, exited: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", roostBin, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
	})
	addrc := make(chan string, 1)
	go s.scan(stderr, addrc)
	select {
	case s.addr = <-addrc:
	case <-s.exited:
		t.Fatalf("roost exited before listening; output:\n%s", s.logs)
	case <-time.After(listenTimeout):
		t.Fatalf("roost did not log its address within %v; output:\n%s", listenTimeout, s.logs)
	}
	return s
}

// scan copies the server's stderr to its logs, sends the address of the
// "listening" line on addrc, and marks the process's exit.
func (s *server) scan(stderr io.Reader, addrc chan<- string) {
	defer close(s.exited)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		s.logs.Write([]byte(line + "\n"))
		if !strings.Contains(line, "msg=listening") {
			continue
		}
		for f := range strings.FieldsSeq(line) {
			if a, ok := strings.CutPrefix(f, "addr="); ok {
				addrc <- a
			}
		}
	}
	io.Copy(s.logs, stderr)
	s.cmd.Wait()
}

// rss returns the server's resident memory in bytes (VmRSS).
func (s *server) rss(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
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
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
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

// logBuffer is a bytes.Buffer safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
