package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/counter"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEnvFallback_FlagsWinOverEnvironment(t *testing.T) {
	t.Setenv("ROOST_ADDR", "127.0.0.1:9999")
	t.Setenv("ROOST_IDLE_TIMEOUT", "3s")
	t.Setenv("ROOST_DATA", "/from-env")
	cmd := newServeCmd()
	if err := cmd.ParseFlags([]string{"--data", "/from-flag"}); err != nil {
		t.Fatal(err)
	}
	if err := envFallback(cmd.Flags()); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"addr": "127.0.0.1:9999", "idle-timeout": "3s", "data": "/from-flag", "durability": "full"} {
		if got := cmd.Flags().Lookup(flag).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
}

func TestEnvFallback_BadValueNamesTheVariable(t *testing.T) {
	t.Setenv("ROOST_IDLE_TIMEOUT", "soon")
	cmd := newServeCmd()
	err := envFallback(cmd.Flags())
	if err == nil || !strings.Contains(err.Error(), "ROOST_IDLE_TIMEOUT") {
		t.Fatalf("envFallback = %v, want an error naming ROOST_IDLE_TIMEOUT", err)
	}
}

// Not parallel: it sets the process's environment.
func TestRun_PrintsAnErrorWithOneRoostPrefix(t *testing.T) {
	// GOMAXPROCS set: serve leaves the test process's Ps alone.
	t.Setenv("GOMAXPROCS", strconv.Itoa(runtime.GOMAXPROCS(0)))
	// roost.Open's errors have begun with "roost: ", which main printed
	// once more.
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"serve", "--data", t.TempDir(), "--durability", "sometimes"}, &stdout, &stderr)
	got := stderr.String()
	if code != 1 || !strings.HasPrefix(got, "roost: ") || strings.Count(got, "roost: ") != 1 || !strings.Contains(got, "sometimes") {
		t.Fatalf("roost serve --durability sometimes: exit status %d, stderr %q; want 1 and one error line with one \"roost: \"", code, got)
	}
}

func TestErrorLine_StripsTheRoostPrefixesOfTheError(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, err, want string }{
		{"plain", "listen: address in use", "roost: listen: address in use"},
		{"prefixed", "roost: open: disk full", "roost: open: disk full"},
		{"prefixed twice", "roost: roost: open: disk full", "roost: open: disk full"},
		{"inside", "config: roost: x", "roost: config: roost: x"},
		{"no space", "roost:x", "roost: roost:x"},
		{"only the prefix", "roost: ", "roost: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := errorLine(errors.New(tt.err)); got != tt.want {
				t.Fatalf("errorLine(%q) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestBench_ReportsRequestsAgainstARealApp(t *testing.T) {
	ctx := context.Background()
	srv := newCounterServer(t)

	o := benchOptions{server: srv.URL, class: "counter", prefix: "b", method: "POST", path: "/increment",
		clients: 4, objects: 3, duration: 30 * time.Second, timeout: 5 * time.Second, requests: 60}
	tr := httptestClient(t, srv)
	results := make([]benchResult, o.clients)
	var next, done atomicCounter
	for c := range results {
		results[c] = benchClient(ctx, tr, o, &next.Int64, &done.Int64)
	}
	var out bytes.Buffer
	report(&out, o, results, time.Second)
	if !strings.Contains(out.String(), "ok 60, errors 0") {
		t.Fatalf("report:\n%s", out.String())
	}
	// 60 increments round-robin over 3 counters: 20 each.
	resp, err := tr.Get(srv.URL + "/counter/b1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if got := strings.TrimSpace(body.String()); got != `{"value":20}` {
		t.Fatalf("counter b1 = %s, want {\"value\":20}", got)
	}
}

func TestBench_EndsWhenTheRequestsAreDone(t *testing.T) {
	ctx := context.Background()
	srv := newCounterServer(t)
	start := time.Now()
	err := bench(ctx, benchOptions{server: srv.URL, class: "counter", prefix: "e", method: "POST", path: "/increment",
		clients: 2, objects: 1, duration: time.Hour, timeout: 5 * time.Second, requests: 10}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// Bounded by --requests, not by the hour-long --duration. The bound is
	// generous: this checks that the run ends, not how fast it is.
	if d := time.Since(start); d > time.Minute {
		t.Fatalf("bench with 10 requests took %v", d)
	}
}

func TestBench_FailsAtOnceWhenTheServerIsNotRunning(t *testing.T) {
	t.Parallel()
	url := closedServerURL(t)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(t.Context(), []string{"bench", "--server", url, "--duration", "10s", "--timeout", "5s"}, &stdout, &stderr)
	took := time.Since(start)
	line := stderr.String()
	if code == 0 || !strings.HasPrefix(line, "roost: cannot reach the server at "+url+": ") || !strings.Contains(line, "roost serve") || strings.Count(line, "\n") != 1 {
		t.Fatalf("bench against %s: exit status %d, stderr %q; want 1 and one line saying that it cannot reach the server", url, code, line)
	}
	if stdout.Len() != 0 || took >= 10*time.Second {
		t.Fatalf("bench against %s ran its load for %v and printed %q: want it to stop after its check", url, took, stdout.String())
	}
}

func TestBench_FailsWhenRequestsFail(t *testing.T) {
	t.Parallel()
	srv := newCounterServer(t)
	// There is no class "nope": every request is answered 404.
	out, _, err := roostCLI(t, "bench", "--server", srv.URL, "--class", "nope", "--clients", "2", "--requests", "10", "--duration", "1m")
	if err == nil || !strings.Contains(err.Error(), "10 of 10 requests failed") {
		t.Fatalf("bench with failing requests: error %v, want one saying that 10 of 10 requests failed", err)
	}
	if !strings.Contains(out, "ok 0, errors 10") || !strings.Contains(out, `error "HTTP 404" × 10`) {
		t.Fatalf("bench with failing requests printed no summary of them:\n%s", out)
	}
}

// closedServerURL returns the URL of a loopback port that nothing listens
// on any more.
func closedServerURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return url
}

// newCounterServer serves an app with the counter class on loopback until the
// test ends.
func newCounterServer(t testing.TB) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	app, err := roost.Open(ctx, roost.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	counter.Register(app, "counter")
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() { srv.Close(); app.Close(ctx) })
	return srv
}

type atomicCounter struct{ atomic.Int64 }

func httptestClient(t testing.TB, srv *httptest.Server) *http.Client {
	t.Helper()
	c := srv.Client()
	t.Cleanup(c.CloseIdleConnections)
	return c
}
