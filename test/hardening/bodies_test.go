package hardening

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// outcome is what one attacking connection saw.
type outcome struct {
	answer answer
	err    error // no answer, or the connection was not closed after it
}

// outcomes reads the answer of each connection, then waits for the server
// to close it, all at once. Meanwhile it calls sample every 20 ms.
func outcomes(conns []*client, sample func()) []outcome {
	out := make([]outcome, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			a, err := c.read(false)
			if err == nil {
				err = c.closedByServer()
			}
			out[i] = outcome{a, err}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return out
		case <-tick.C:
			sample()
		}
	}
}

// checkTimedOut fails the test unless every outcome is a 408
// request_timeout answer followed by the server's close.
func checkTimedOut(t *testing.T, out []outcome) {
	t.Helper()
	for i, o := range out {
		if o.err != nil {
			t.Fatalf("connection %d: %v (answer %d %q)", i, o.err, o.answer.status, o.answer.body)
		}
		checkError(t, o.answer, http.StatusRequestTimeout, "request_timeout")
	}
}

// TestBodies_DeclaredLengthDoesNotPinMemory is issue 12's first probe:
// connections that declare a 4 MiB body and send one byte. Before the fix
// the server allocated each declared body up front (100 such connections:
// 22 MB → 435 MB RSS) and held it with the connection forever.
func TestBodies_DeclaredLengthDoesNotPinMemory(t *testing.T) {
	t.Parallel()
	const (
		clients  = 100
		declared = 4 << 20
		// rssBound is what the 100 connections may add to the server's
		// resident memory: a connection costs a goroutine and net/http's
		// buffers, some 20 KiB, not its declared body.
		rssBound = 16 << 20
	)
	srv := start(t, 0, "--http-body-timeout", "2s")
	for i := range clients / 10 { // warm up: the objects' class, the pools
		if a := srv.dial(t).do(t, "POST", fmt.Sprintf("/counter/w%d/increment", i)); a.status != 200 {
			t.Fatalf("warm-up: %d %s", a.status, a.body)
		}
	}
	base := srv.rss(t)
	conns := make([]*client, clients)
	for i := range conns {
		conns[i] = srv.dial(t)
		conns[i].send(t, "POST /counter/c%d/increment HTTP/1.1\r\nHost: roost\r\nContent-Length: %d\r\n\r\nx", i, declared)
	}
	peak := base
	out := outcomes(conns, func() { peak = max(peak, srv.rss(t)) })
	checkTimedOut(t, out)
	t.Logf("%d connections declaring %d bytes and sending 1: RSS %d MiB before, at most %d MiB while they were open (bound: +%d MiB)",
		clients, declared, base>>20, peak>>20, rssBound>>20)
	if peak-base > rssBound {
		t.Fatalf("RSS grew by %d MiB, want at most %d MiB", (peak-base)>>20, rssBound>>20)
	}
}

// TestBodies_NeverEndingChunkedBodiesAreCutAtTheTimeout: chunked bodies
// that keep coming, a byte at a time, are answered 408 and closed once
// --http-body-timeout has passed, however much they still send.
func TestBodies_NeverEndingChunkedBodiesAreCutAtTheTimeout(t *testing.T) {
	t.Parallel()
	const clients = 20
	srv := start(t, 0, "--http-body-timeout", "1s")
	conns := make([]*client, clients)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	for i := range conns {
		c := srv.dial(t)
		c.send(t, "POST /counter/n%d/increment HTTP/1.1\r\nHost: roost\r\nTransfer-Encoding: chunked\r\n\r\n", i)
		conns[i] = c
		wg.Go(func() { trickle(c, stop) })
	}
	checkTimedOut(t, outcomes(conns, func() {}))
}

// trickle sends a one-byte chunk every 100 ms until stop is closed, the
// connection fails or answerWait has passed.
func trickle(c *client, stop <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for range answerWait / (100 * time.Millisecond) {
		select {
		case <-stop:
			return
		case <-tick.C:
			if _, err := c.c.Write([]byte("1\r\nx\r\n")); err != nil {
				return
			}
		}
	}
}
