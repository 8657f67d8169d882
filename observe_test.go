package roost_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/roost-dev/roost"
)

// scrape returns the app's metrics in the text format.
func scrape(t testing.TB, app *testApp) string {
	t.Helper()
	rec := httptest.NewRecorder()
	app.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// wantMetric checks that the exposition has a line starting with series.
func wantMetric(t testing.TB, text, series string) {
	t.Helper()
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, series) {
			return
		}
	}
	t.Errorf("no metric %s in:\n%s", series, grepLines(text, "roost_"))
}

func grepLines(text, substr string) string {
	var out strings.Builder
	for line := range strings.Lines(text) {
		if strings.Contains(line, substr) && !strings.HasPrefix(line, "#") {
			out.WriteString(line)
		}
	}
	return out.String()
}

func TestOverloadFloodGets503WhileOthersStayFast(t *testing.T) {
	const maxPending = 4
	app := newApp(t, roost.Config{MaxPendingEvents: maxPending})
	release, running := make(chan struct{}), make(chan struct{}, 1)
	registerObj(app, "flood", map[string]route{
		"/slow": func(o *obj, w http.ResponseWriter, r *http.Request) error {
			select {
			case running <- struct{}{}:
			default:
			}
			<-release
			return nil
		},
		"/fast": func(o *obj, w http.ResponseWriter, r *http.Request) error {
			_, err := io.WriteString(w, "fast")
			return err
		},
	})
	srv := serve(t, app)
	// A flood at one object: its first event blocks, maxPending wait, the
	// rest are refused at once with 503 and Retry-After.
	const flood = 50
	var wg sync.WaitGroup
	statuses := make(chan response, flood)
	for i := range flood {
		if i == 1 {
			<-running // the first event runs: the others queue behind it
		}
		wg.Go(func() {
			res, err := send(context.Background(), srv.Client(), http.MethodGet, srv.URL+"/flood/hot/slow", "")
			if err != nil {
				t.Error(err)
				return
			}
			statuses <- res
		})
	}
	refused := 0
	for refused < flood-1-maxPending {
		res := <-statuses
		wantError(t, res, http.StatusServiceUnavailable, "overloaded")
		if res.header.Get("Retry-After") == "" {
			t.Fatal("503 overloaded without Retry-After")
		}
		refused++
	}
	// The queue depth shows in the metrics while the flood waits.
	text := scrape(t, app)
	wantMetric(t, text, `roost_queue_depth{class="flood"} 4`)
	wantMetric(t, text, `roost_queue_depth_max 4`)
	wantMetric(t, text, `roost_overloaded_total{class="flood"} 45`)
	// Other objects of the class answer meanwhile.
	for i := range 20 {
		res := do(t, srv, http.MethodGet, "/flood/cool"+string(rune('a'+i))+"/fast", "")
		if res.status != http.StatusOK || res.body != "fast" {
			t.Fatalf("another object during the flood: %d %q", res.status, res.body)
		}
	}
	close(release)
	wg.Wait()
	close(statuses)
	for res := range statuses {
		if res.status != http.StatusOK {
			t.Errorf("queued request: %d %s", res.status, res.body)
		}
	}
}

func TestMetricsCountEventsCommitsAndObjects(t *testing.T) {
	app := newApp(t, roost.Config{})
	registerCounter(app, "counter")
	srv := serve(t, app)
	for range 3 {
		do(t, srv, http.MethodPost, "/counter/a/increment", "")
	}
	do(t, srv, http.MethodGet, "/counter/b", "")
	res := do(t, srv, http.MethodGet, "/nope/a", "")
	_ = res
	text := scrape(t, app)
	for _, series := range []string{
		`roost_events_total{class="counter",kind="http",status="ok"} 4`,
		`roost_activations_total{class="counter"} 2`,
		`roost_objects{state="active"} 2`,
		`roost_commit_duration_seconds_count 4`, // b's read commits nothing, and leaves no file
		`roost_open_database_files 2`,
		`roost_timers_pending 0`,
		`go_goroutines`,
	} {
		wantMetric(t, text, series)
	}
	app.evictIdleAll(t)
	// The catalog records activity lazily (within a second): wait for it.
	// b, only read, was never stored: a is the one hibernated object.
	for i := 0; !strings.Contains(text, `roost_objects{state="hibernated"} 1`); i++ {
		if i == 100 {
			t.Fatalf("hibernated objects never reached 1:\n%s", grepLines(text, "roost_objects"))
		}
		time.Sleep(50 * time.Millisecond)
		text = scrape(t, app)
	}
	wantMetric(t, text, `roost_objects{state="active"} 0`)
	wantMetric(t, text, `roost_evictions_total{class="counter",reason="idle"} 2`)
}

// evictIdleAll advances the clock past the idle timeout until no object is
// in memory.
func (a *testApp) evictIdleAll(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	for a.ActiveObjects() > 0 {
		if err := a.Clock.WaitForTimers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		a.Clock.Advance(a.idleTimeout())
		if a.leftOrArmed(ctx) {
			continue
		}
	}
}

func TestTracesAroundEventsCommitsAndRPC(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	app := newApp(t, roost.Config{TracerProvider: tp})
	registerCounter(app, "counter")
	srv := serve(t, app)
	do(t, srv, http.MethodPost, "/counter/a/increment", "")
	ledgers := registerLedger(app, "ledger")
	if _, err := ledgerPing.Call(t.Context(), ledgers.GetByName("x"), ping{N: 1}); err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	var rpc, rpcEvent sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		names[s.Name()]++
		switch s.Name() {
		case "roost.rpc ping":
			rpc = s
		case "roost.event rpc":
			rpcEvent = s
		}
	}
	if names["roost.event http"] != 1 || names["roost.commit"] != 1 || rpc == nil || rpcEvent == nil {
		t.Fatalf("spans %v, want an HTTP event with its commit, an RPC call and its event", names)
	}
	if rpcEvent.Parent().SpanID() != rpc.SpanContext().SpanID() {
		t.Errorf("the RPC's event span is not a child of the call's span")
	}
}
