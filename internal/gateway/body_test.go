package gateway_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/gateway"
)

// answerWait bounds how long a test waits for an answer the server owes:
// far above every timeout the tests set, so that only a server that never
// answers fails.
const answerWait = 20 * time.Second

// dial opens a raw connection to srv, closed at cleanup.
func dial(t testing.TB, srv *httptest.Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAnswer reads one HTTP answer from c, failing the test if none comes
// within answerWait.
func readAnswer(t testing.TB, c net.Conn, br *bufio.Reader) result {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(answerWait))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer's body: %v", err)
	}
	return result{resp.StatusCode, resp.Header, string(b)}
}

// checkClosed fails the test unless the server closes c within answerWait:
// EOF, or a reset, which the kernel sends for a socket closed with input
// unread (a client that kept sending).
func checkClosed(t testing.TB, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(answerWait))
	if n, err := io.Copy(io.Discard, br); err != nil && (n > 0 || !errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("after %d more bytes: %v, want the server to close the connection", n, err)
	}
}

func TestGateway_SilentBodyGets408AndIsClosed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, head, sent string
	}{
		{"declared length, one byte", "Content-Length: 4194304\r\n", "x"},
		{"chunked, one chunk", "Transfer-Encoding: chunked\r\n", "1\r\nx\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs := &objects{}
			_, srv := serve(t, objs, gateway.Config{BodyTimeout: 200 * time.Millisecond})
			c := dial(t, srv)
			fmt.Fprintf(c, "POST /counter/a HTTP/1.1\r\nHost: x\r\n%s\r\n%s", tt.head, tt.sent)
			br := bufio.NewReader(c)
			checkError(t, readAnswer(t, c, br), http.StatusRequestTimeout, errcode.RequestTimeout)
			checkClosed(t, c, br)
			if n := len(objs.delivered()); n != 0 {
				t.Fatalf("Fetch called %d times, want 0", n)
			}
		})
	}
}

func TestGateway_NeverEndingChunkedBodyIsCutAtTheTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	_, srv := serve(t, &objects{}, gateway.Config{BodyTimeout: timeout})
	c := dial(t, srv)
	fmt.Fprintf(c, "PUT /counter/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	// Keep sending small chunks, well under the body limit, for far longer
	// than the timeout: the server must cut the body off anyway.
	for i := 0; i < int(answerWait/(timeout/4)); i++ {
		if _, err := io.WriteString(c, "1\r\nx\r\n"); err != nil {
			break // the server closed the connection
		}
		time.Sleep(timeout / 4) // the client's pace, not a synchronization
	}
	br := bufio.NewReader(c)
	checkError(t, readAnswer(t, c, br), http.StatusRequestTimeout, errcode.RequestTimeout)
	checkClosed(t, c, br)
}

func TestGateway_BodyTimeoutDoesNotBoundHandlersOrLongPolls(t *testing.T) {
	t.Parallel()
	const timeout = 100 * time.Millisecond
	g, srv := serve(t, &objects{}, gateway.Config{BodyTimeout: timeout})
	// The handler outlasts the body timeout, as a long poll or a slow event
	// does; its request's context must stay alive (net/http cancels it when
	// a read deadline passes while the handler runs).
	g.Handle("/wait", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case <-time.After(5 * timeout):
			fmt.Fprintf(w, "waited, body %q", body)
		case <-r.Context().Done():
			http.Error(w, "context canceled", http.StatusInternalServerError)
		}
	}))
	for _, tt := range []struct{ method, body string }{{"GET", ""}, {"POST", "hello"}} {
		res := do(t, srv, tt.method, "/wait", strings.NewReader(tt.body), nil)
		if want := fmt.Sprintf("waited, body %q", tt.body); res.status != 200 || res.body != want {
			t.Fatalf("%s /wait = %d %q, want 200 %q", tt.method, res.status, res.body, want)
		}
	}
}

func TestGateway_StreamBodyLetsAnUploadLastWhileItProgresses(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	g, srv := serve(t, &objects{}, gateway.Config{BodyTimeout: timeout})
	g.Handle("PUT /upload", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gateway.StreamBody(r)
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			gateway.WriteError(w, err)
			return
		}
		fmt.Fprintf(w, "%d bytes", n)
	}))
	c := dial(t, srv)
	fmt.Fprintf(c, "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n")
	for range 8 { // 8 × timeout/2: twice the timeout in all, never a pause of it
		time.Sleep(timeout / 2) // the client's pace, not a synchronization
		io.WriteString(c, "x")
	}
	br := bufio.NewReader(c)
	if res := readAnswer(t, c, br); res.status != 200 || res.body != "8 bytes" {
		t.Fatalf("slow upload = %d %q, want 200 \"8 bytes\"", res.status, res.body)
	}
	// A pause of the whole timeout ends it.
	fmt.Fprintf(c, "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nx")
	checkError(t, readAnswer(t, c, br), http.StatusRequestTimeout, errcode.RequestTimeout)
}

// TestGateway_BodyBufferGrowsWithTheBytesThatArrive runs alone (no
// t.Parallel): it reads the process's allocation counter.
func TestGateway_BodyBufferGrowsWithTheBytesThatArrive(t *testing.T) {
	const (
		clients  = 20
		declared = 4 << 20
	)
	_, srv := serve(t, &objects{}, gateway.Config{MaxBodyBytes: declared, BodyTimeout: 200 * time.Millisecond})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range clients {
		c := dial(t, srv)
		fmt.Fprintf(c, "POST /counter/a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nx", declared)
		// The 408 comes once the gateway has given up on the body: by then
		// it has allocated all it ever will for it.
		checkError(t, readAnswer(t, c, bufio.NewReader(c)), http.StatusRequestTimeout, errcode.RequestTimeout)
	}
	runtime.ReadMemStats(&after)
	// Each client sent one byte; before issue 12 each cost its declared 4 MiB.
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(clients*256<<10); got > limit {
		t.Fatalf("%d clients that declared %d bytes and sent 1 made the process allocate %d bytes, want at most %d",
			clients, declared, got, limit)
	}
}
