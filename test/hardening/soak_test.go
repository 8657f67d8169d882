package hardening

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Bounds the soak test holds the server to while it is attacked; README's
// "Limits and timeouts" quotes them.
const (
	soakMaxRSS = 384 << 20 // bytes of resident memory
	soakConns  = 600       // --max-conns of the soak's server
	// soakMaxFDs is what --max-conns, the objects' files (2 × the default
	// --max-active) and the server's own files add up to.
	soakMaxFDs = soakConns + 2*256 + 160
)

// TestSoak_AttacksLeaveNormalClientsServed runs every anonymous attack of
// issue 12 at once against one server while normal clients increment
// counters and listen in a room: the normal clients get no error, their p99
// stays within 2× of the quiet runs' (before and after the attacks), and the server's memory and open files
// stay under the bounds above. The numbers are in the test's log.
func TestSoak_AttacksLeaveNormalClientsServed(t *testing.T) {
	srv := start(t, 0, "--http-body-timeout", "2s", "--http-idle-timeout", "2s", "--max-conns", fmt.Sprint(soakConns))
	before := normalLoad(t, srv, "quiet", 4*time.Second)
	ctx, stop := context.WithCancel(context.Background())
	var attacks sync.WaitGroup
	var bad atomic.Int64 // attack answers that must never happen
	for _, a := range soakAttacks(srv, &bad) {
		attacks.Go(func() { a(ctx) })
	}
	peak := sampleServer(ctx, t, srv, &attacks)
	room := listenRoom(ctx, t, srv, &attacks)
	time.Sleep(time.Second) // the attacks reach their strength
	loud := normalLoad(t, srv, "attacked", 8*time.Second)
	stop()
	attacks.Wait()
	time.Sleep(time.Second) // the attacks' connections close
	// The quiet p99 is the larger of a run before and one after the
	// attacks: the machine's own drift is not the attacks' doing.
	quiet := normalLoad(t, srv, "quiet again", 4*time.Second)
	quiet.p99 = max(quiet.p99, before.p99)
	quiet.requests += before.requests
	t.Logf("normal clients: %d requests quiet, %d attacked; p99 %v quiet, %v attacked (%.2f×); room: %d messages, worst delay %v; server: RSS peak %d MiB, open files peak %d",
		quiet.requests, loud.requests, quiet.p99, loud.p99, float64(loud.p99)/float64(quiet.p99), room.received, room.worst, peak.rss.Load()>>20, peak.fds.Load())
	switch {
	case loud.p99 > 2*quiet.p99:
		t.Errorf("attacked p99 %v is over 2× the quiet p99 %v", loud.p99, quiet.p99)
	case bad.Load() > 0:
		t.Errorf("%d attack requests got an answer they must not (a redirect, or a success)", bad.Load())
	case room.err != nil:
		t.Errorf("normal room client: %v", room.err)
	case peak.rss.Load() > soakMaxRSS:
		t.Errorf("RSS peak %d MiB over the bound of %d MiB", peak.rss.Load()>>20, soakMaxRSS>>20)
	case peak.fds.Load() > soakMaxFDs:
		t.Errorf("open files peak %d over the bound of %d", peak.fds.Load(), soakMaxFDs)
	}
}

// loadResult is what normal clients saw.
type loadResult struct {
	p99      time.Duration
	requests int
}

// normalLoad runs 4 clients that each make durable increments in turn for
// d, and fails the test on any error.
func normalLoad(t *testing.T, srv *server, phase string, d time.Duration) loadResult {
	t.Helper()
	const clients = 4
	end := time.Now().Add(d)
	hc := &http.Client{Timeout: answerWait, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer hc.CloseIdleConnections()
	lat := make([][]time.Duration, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { lat[i], errs[i] = increments(hc, srv.addr, fmt.Sprintf("soak-%d", i), end) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("%s: normal client: %v", phase, err)
		}
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	return loadResult{p99: all[len(all)*99/100], requests: len(all)}
}

// increments increments one counter until end and returns the latencies.
func increments(hc *http.Client, addr, name string, end time.Time) ([]time.Duration, error) {
	var lat []time.Duration
	for time.Now().Before(end) {
		begin := time.Now()
		resp, err := hc.Post("http://"+addr+"/counter/"+name+"/increment", "", nil)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("increment %s: status %d", name, resp.StatusCode)
		}
		lat = append(lat, time.Since(begin))
	}
	return lat, nil
}

// serverPeak holds the most memory and open files the server was seen with.
type serverPeak struct{ rss, fds atomic.Int64 }

// sampleServer samples the server's RSS and open files every 50 ms until
// ctx ends.
func sampleServer(ctx context.Context, t *testing.T, srv *server, wg *sync.WaitGroup) *serverPeak {
	p := &serverPeak{}
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			p.rss.Store(max(p.rss.Load(), srv.rss(t)))
			p.fds.Store(max(p.fds.Load(), int64(srv.fds(t))))
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return p
}

// soakAttacks are the anonymous attacks of issue 12, each a loop until ctx
// ends. Answers that must never come are counted in bad.
func soakAttacks(srv *server, bad *atomic.Int64) []func(ctx context.Context) {
	var out []func(ctx context.Context)
	repeat := func(n int, f func(ctx context.Context)) {
		for range n {
			out = append(out, func(ctx context.Context) {
				for ctx.Err() == nil {
					f(ctx)
				}
			})
		}
	}
	repeat(50, func(ctx context.Context) { slowBody(ctx, srv.addr) })
	repeat(200, func(ctx context.Context) { idleConn(ctx, srv.addr) })
	repeat(20, func(ctx context.Context) { endlessChunks(ctx, srv.addr) })
	repeat(1, func(ctx context.Context) { badPaths(ctx, srv.addr, bad) })
	repeat(30, func(ctx context.Context) { deafSocket(ctx, srv.addr) })
	repeat(1, func(ctx context.Context) { invalidUTF8(ctx, srv.addr) })
	repeat(1, func(ctx context.Context) { bigMessages(ctx, srv.addr) })
	repeat(1, func(ctx context.Context) { smallFlood(ctx, srv.addr) })
	return out
}

// rawConn dials the server; it is closed when ctx ends.
func rawConn(ctx context.Context, addr string) (net.Conn, func()) {
	c, err := net.DialTimeout("tcp", addr, answerWait)
	if err != nil {
		sleepCtx(ctx, 50*time.Millisecond) // refused at --max-conns, say: try again
		return nil, func() {}
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	return c, func() { stop(); c.Close() }
}

// slowBody declares a 4 MiB body and sends one byte of it; the body
// timeout closes the connection.
func slowBody(ctx context.Context, addr string) {
	sendAndHold(ctx, addr, fmt.Sprintf("POST /counter/slow/increment HTTP/1.1\r\nHost: roost\r\nContent-Length: %d\r\n\r\nx", 4<<20))
}

// idleConn makes one request and then keeps the connection idle; the idle
// timeout closes it.
func idleConn(ctx context.Context, addr string) {
	sendAndHold(ctx, addr, "GET /counter/idle HTTP/1.1\r\nHost: roost\r\n\r\n")
}

// sendAndHold sends raw request bytes and reads what comes back until the
// server closes the connection or ctx ends.
func sendAndHold(ctx context.Context, addr, request string) {
	c, done := rawConn(ctx, addr)
	if c == nil {
		return
	}
	defer done()
	io.WriteString(c, request)
	io.Copy(io.Discard, c)
}

// endlessChunks sends a chunked body that never ends, a byte every 100 ms.
func endlessChunks(ctx context.Context, addr string) {
	c, done := rawConn(ctx, addr)
	if c == nil {
		return
	}
	defer done()
	fmt.Fprintf(c, "POST /counter/endless/increment HTTP/1.1\r\nHost: roost\r\nTransfer-Encoding: chunked\r\n\r\n")
	for ctx.Err() == nil {
		if _, err := io.WriteString(c, "1\r\nx\r\n"); err != nil {
			return
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

// badPaths asks for paths that routers would rewrite into other routes, and
// creates workflow instances with the IDs "." and "..": each must be
// refused.
func badPaths(ctx context.Context, addr string, bad *atomic.Int64) {
	hc := &http.Client{Timeout: answerWait, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer hc.CloseIdleConnections()
	check := func(resp *http.Response, err error) {
		if err != nil {
			return
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			bad.Add(1)
		}
	}
	for _, p := range []string{"/counter/..", "/counter/x/../../_roost/objects", "/counter/./x"} {
		check(hc.Get("http://" + addr + p))
	}
	for _, id := range []string{".", ".."} {
		check(hc.Post("http://"+addr+"/workflows/threestep/instances", "application/json", strings.NewReader(`{"id":"`+id+`","params":1}`)))
	}
	sleepCtx(ctx, 20*time.Millisecond)
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
