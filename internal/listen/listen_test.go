package listen_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/listen"
)

// answerWait bounds how long a test waits for what the server owes (an
// answer, a close): far above every timeout the tests set.
const answerWait = 20 * time.Second

// hijacked is what a test handler sends on the channel of start's server
// when it took over a connection: closing it frees its place.
type hijacked = net.Conn

// start serves, on a loopback Listener with cfg, a handler that answers
// "ok", and takes over the connection of GET /hijack (as a WebSocket
// upgrade does) and sends it on the returned channel. The server stops
// at cleanup.
func start(t testing.TB, cfg listen.Config) (*listen.Listener, <-chan hijacked) {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	ln, err := listen.Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan hijacked, 16)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("GET /hijack", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conns <- c
	})
	srv := listen.Server(mux, cfg)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	return ln, conns
}

// client is a raw keep-alive connection to a server.
type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, ln *listen.Listener) *client {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// get sends GET path and returns the answer's status and body.
func (c *client) get(path string) (int, http.Header, string) {
	c.t.Helper()
	fmt.Fprintf(c.c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	return c.answer()
}

func (c *client) answer() (int, http.Header, string) {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(answerWait))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read the answer: %v", err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// closed fails the test unless the server closes the connection within
// answerWait, with nothing more sent.
func (c *client) closed() {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(answerWait))
	if n, err := io.Copy(io.Discard, c.br); err != nil || n != 0 {
		c.t.Fatalf("read %d more bytes, then %v; want the server to close the connection", n, err)
	}
}

// checkOverloaded fails the test unless a new connection is refused with
// the 503 overloaded answer, then closed.
func checkOverloaded(t testing.TB, ln *listen.Listener) {
	t.Helper()
	c := dial(t, ln)
	status, h, body := c.get("/")
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || status != http.StatusServiceUnavailable || e.Error.Code != "overloaded" {
		t.Fatalf("connection over the limit: %d %q (%v), want 503 with code overloaded", status, body, err)
	}
	if h.Get("Retry-After") != "1" || h.Get("Content-Type") != "application/json" {
		t.Fatalf("connection over the limit: headers %v, want Retry-After: 1 and JSON", h)
	}
	c.closed()
}

// waitOpen waits until ln counts want open connections: the server notices
// a client's close on its own time. The loop is bounded by answerWait.
func waitOpen(t testing.TB, ln *listen.Listener, want int) {
	t.Helper()
	for deadline := time.Now().Add(answerWait); ln.Open() != want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("open connections = %d, want %d", ln.Open(), want)
		}
	}
}

func TestListener_RefusesConnectionsOverTheLimitWith503(t *testing.T) {
	t.Parallel()
	ln, _ := start(t, listen.Config{MaxConns: 2})
	a, b := dial(t, ln), dial(t, ln)
	for _, c := range []*client{a, b} {
		if status, _, body := c.get("/"); status != 200 || body != "ok" {
			t.Fatalf("connection within the limit: %d %q", status, body)
		}
	}
	for range 3 {
		checkOverloaded(t, ln)
	}
	// The open connections keep being served.
	if status, _, _ := a.get("/"); status != 200 {
		t.Fatalf("open connection after refusals: %d", status)
	}
	a.c.Close()
	waitOpen(t, ln, 1)
	if status, _, _ := dial(t, ln).get("/"); status != 200 {
		t.Fatalf("new connection once one closed: %d, want 200", status)
	}
	if ln.Refused() != 3 {
		t.Fatalf("Refused() = %d, want 3", ln.Refused())
	}
}

func TestListener_CountsTakenOverConnectionsUntilClosed(t *testing.T) {
	t.Parallel()
	ln, conns := start(t, listen.Config{MaxConns: 1})
	c := dial(t, ln)
	fmt.Fprintf(c.c, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n")
	var held net.Conn
	select {
	case held = <-conns:
	case <-time.After(answerWait):
		t.Fatal("the handler did not take the connection over")
	}
	// A WebSocket holds its place under the limit.
	checkOverloaded(t, ln)
	if _, ok := held.(syscall.Conn); !ok {
		t.Fatalf("a taken-over connection (%T) does not give its file descriptor (syscall.Conn)", held)
	}
	held.Close()
	waitOpen(t, ln, 0)
	if status, _, _ := dial(t, ln).get("/"); status != 200 {
		t.Fatalf("new connection once the taken-over one closed: %d, want 200", status)
	}
}

func TestServer_ClosesIdleAndSilentConnections(t *testing.T) {
	t.Parallel()
	ln, _ := start(t, listen.Config{MaxConns: 10, IdleTimeout: 100 * time.Millisecond, HeaderTimeout: 100 * time.Millisecond})
	idle := dial(t, ln)
	if status, _, _ := idle.get("/"); status != 200 {
		t.Fatalf("first request: %d", status)
	}
	idle.closed() // kept alive, then idle past IdleTimeout
	silent := dial(t, ln)
	silent.closed() // no request line within HeaderTimeout
	halfHeaders := dial(t, ln)
	io.WriteString(halfHeaders.c, "GET / HTTP/1.1\r\nHost: x\r\n")
	halfHeaders.closed() // headers that never end
	waitOpen(t, ln, 0)
}

func TestListen_RejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	if _, err := listen.Listen("127.0.0.1:0", listen.Config{}); err == nil || !strings.Contains(err.Error(), "MaxConns: must be ≥ 1") {
		t.Fatalf("Listen without MaxConns: %v", err)
	}
}

func TestBudget_LeavesTheReservedDescriptors(t *testing.T) {
	t.Parallel()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	all, err := listen.Budget(0)
	if err != nil || all <= 0 || all >= int(rl.Cur) {
		t.Fatalf("Budget(0) = %d, %v; want below the limit %d", all, err, rl.Cur)
	}
	if n, err := listen.Budget(100); err != nil || n != all-100 {
		t.Fatalf("Budget(100) = %d, %v; want %d", n, err, all-100)
	}
	if _, err := listen.Budget(int(rl.Cur)); err == nil || !strings.Contains(err.Error(), "open-file limit") {
		t.Fatalf("Budget(the whole limit) = %v, want an error naming the open-file limit", err)
	}
}
