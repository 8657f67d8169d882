package metrics_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/roost-dev/roost/internal/metrics"
)

// scrape serves GET /metrics from m's handler with the given Accept header and
// returns the response's content type and body.
func scrape(t testing.TB, m *metrics.Metrics, accept string) (contentType, body string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, body:\n%s", rec.Code, rec.Body)
	}
	b, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Header().Get("Content-Type"), string(b)
}

// wantLines fails unless every line in want is a whole line of body.
func wantLines(t testing.TB, body string, want ...string) {
	t.Helper()
	lines := make(map[string]bool)
	for l := range strings.Lines(body) {
		lines[strings.TrimSuffix(l, "\n")] = true
	}
	for _, w := range want {
		if !lines[w] {
			t.Errorf("scrape has no line %q", w)
		}
	}
}

// noSeries fails if body has a sample of any of the metrics in names.
func noSeries(t testing.TB, body string, names ...string) {
	t.Helper()
	for l := range strings.Lines(body) {
		for _, n := range names {
			if strings.HasPrefix(l, n+" ") || strings.HasPrefix(l, n+"{") {
				t.Errorf("scrape has unexpected sample %q", strings.TrimSpace(l))
			}
		}
	}
}

func TestMetrics_NilRecordsNothing(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.SetSources(metrics.Sources{Active: func() int { return 1 }})
	m.Activated("counter")
	m.Evicted("counter", "idle")
	m.Event("counter", "http", "ok")
	m.Commit(time.Millisecond, errors.New("disk full"))
	m.TimerRun("counter", "alarm", "ok")
	m.TimerRetry("counter", "alarm")
	m.TimerGaveUp("counter", "alarm")
	m.RPC("counter", "Increment", "ok", time.Millisecond)
	m.Overloaded("counter")
	if r := m.Registry(); r != nil {
		t.Errorf("Registry() = %v, want nil", r)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Handler status = %d, want 404", rec.Code)
	}
}

func TestMetrics_RecordsSeries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		record func(m *metrics.Metrics)
		want   []string
	}{
		{
			name:   "activations",
			record: func(m *metrics.Metrics) { m.Activated("counter"); m.Activated("counter"); m.Activated("chat") },
			want:   []string{`roost_activations_total{class="counter"} 2`, `roost_activations_total{class="chat"} 1`},
		},
		{
			name: "evictions",
			record: func(m *metrics.Metrics) {
				m.Evicted("counter", "idle")
				m.Evicted("counter", "lru")
				m.Evicted("counter", "idle")
			},
			want: []string{
				`roost_evictions_total{class="counter",reason="idle"} 2`,
				`roost_evictions_total{class="counter",reason="lru"} 1`,
			},
		},
		{
			name: "events",
			record: func(m *metrics.Metrics) {
				for range 3 {
					m.Event("counter", "http", "ok")
				}
				m.Event("counter", "rpc", "handler_panic")
			},
			want: []string{
				`roost_events_total{class="counter",kind="http",status="ok"} 3`,
				`roost_events_total{class="counter",kind="rpc",status="handler_panic"} 1`,
			},
		},
		{
			// 250ms and 500ms are exact in binary, so the sum prints exactly;
			// they land in the buckets 50µs·2^13 = 0.4096 and 50µs·2^14 = 0.8192.
			name: "commits",
			record: func(m *metrics.Metrics) {
				m.Commit(250*time.Millisecond, nil)
				m.Commit(500*time.Millisecond, errors.New("disk full"))
			},
			want: []string{
				`roost_commit_duration_seconds_bucket{le="0.2048"} 0`,
				`roost_commit_duration_seconds_bucket{le="0.4096"} 1`,
				`roost_commit_duration_seconds_bucket{le="0.8192"} 2`,
				`roost_commit_duration_seconds_bucket{le="+Inf"} 2`,
				`roost_commit_duration_seconds_sum 0.75`,
				`roost_commit_duration_seconds_count 2`,
				`roost_commit_failures_total 1`,
			},
		},
		{
			name: "timers",
			record: func(m *metrics.Metrics) {
				m.TimerRun("counter", "alarm", "error")
				m.TimerRetry("counter", "alarm")
				m.TimerRun("counter", "alarm", "ok")
				m.TimerRun("counter", "cron", "error")
				m.TimerGaveUp("counter", "cron")
			},
			want: []string{
				`roost_timer_runs_total{class="counter",kind="alarm",status="error"} 1`,
				`roost_timer_runs_total{class="counter",kind="alarm",status="ok"} 1`,
				`roost_timer_runs_total{class="counter",kind="cron",status="error"} 1`,
				`roost_timer_retries_total{class="counter",kind="alarm"} 1`,
				`roost_timer_failures_total{class="counter",kind="cron"} 1`,
			},
		},
		{
			name: "rpc",
			record: func(m *metrics.Metrics) {
				m.RPC("counter", "Increment", "ok", 250*time.Millisecond)
				m.RPC("counter", "Increment", "ok", 250*time.Millisecond)
				m.RPC("counter", "Get", "not_found", 500*time.Millisecond)
			},
			want: []string{
				`roost_rpc_calls_total{class="counter",method="Increment",status="ok"} 2`,
				`roost_rpc_calls_total{class="counter",method="Get",status="not_found"} 1`,
				`roost_rpc_duration_seconds_bucket{class="counter",le="0.1024"} 0`,
				`roost_rpc_duration_seconds_bucket{class="counter",le="0.4096"} 2`,
				`roost_rpc_duration_seconds_bucket{class="counter",le="1.6384"} 3`,
				`roost_rpc_duration_seconds_sum{class="counter"} 1`,
				`roost_rpc_duration_seconds_count{class="counter"} 3`,
			},
		},
		{
			name:   "overloaded",
			record: func(m *metrics.Metrics) { m.Overloaded("chat"); m.Overloaded("chat") },
			want:   []string{`roost_overloaded_total{class="chat"} 2`},
		},
		{
			// WithLabelValues panics on invalid UTF-8; Metrics repairs the
			// value instead, so a bad class name never crashes an event.
			name: "invalid UTF-8 label value",
			record: func(m *metrics.Metrics) {
				m.Event("bad\xff", "http", "ok")
				m.RPC("bad\xff", "Get", "ok", time.Millisecond)
			},
			want: []string{
				`roost_events_total{class="bad` + "\uFFFD" + `",kind="http",status="ok"} 1`,
				`roost_rpc_calls_total{class="bad` + "\uFFFD" + `",method="Get",status="ok"} 1`,
				`roost_rpc_duration_seconds_count{class="bad` + "\uFFFD" + `"} 1`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New()
			tt.record(m)
			_, body := scrape(t, m, "")
			wantLines(t, body, tt.want...)
		})
	}
}

// recordAll records one of everything, so every roost_* family is exposed.
func recordAll(m *metrics.Metrics) {
	m.SetSources(metrics.Sources{
		Active:        func() int { return 1 },
		Hibernated:    func() int { return 1 },
		QueueDepth:    func() map[string]int { return map[string]int{"counter": 1} },
		MaxQueueDepth: func() int { return 1 },
		OpenDatabases: func() int { return 1 },
		PendingTimers: func() int { return 1 },
		WebSockets:    func() int { return 1 },
		SlowClosed:    func() int { return 1 },
		QueueClosed:   func() int { return 1 },
		QueuedBytes:   func() int { return 1 },
	})
	m.Activated("counter")
	m.Evicted("counter", "idle")
	m.Event("counter", "http", "ok")
	m.Commit(time.Millisecond, errors.New("disk full"))
	m.TimerRun("counter", "alarm", "ok")
	m.TimerRetry("counter", "alarm")
	m.TimerGaveUp("counter", "alarm")
	m.RPC("counter", "Increment", "ok", time.Millisecond)
	m.Overloaded("counter")
}

func TestMetrics_EveryFamilyHasHelpAndPassesLint(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	recordAll(m)
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]bool)
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "roost_") {
			continue
		}
		got[f.GetName()] = true
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", f.GetName())
		}
	}
	for _, name := range []string{
		"roost_activations_total", "roost_evictions_total", "roost_events_total",
		"roost_commit_duration_seconds", "roost_commit_failures_total",
		"roost_timer_runs_total", "roost_timer_retries_total", "roost_timer_failures_total",
		"roost_rpc_calls_total", "roost_rpc_duration_seconds", "roost_overloaded_total",
		"roost_objects", "roost_queue_depth", "roost_queue_depth_max",
		"roost_open_database_files", "roost_timers_pending", "roost_websockets", "roost_websocket_slow_closed_total",
		"roost_websocket_overload_closed_total", "roost_websocket_queued_bytes",
	} {
		if !got[name] {
			t.Errorf("metric %s not exposed", name)
		}
		delete(got, name)
	}
	for name := range got {
		t.Errorf("unexpected metric %s: add it to this list and to the package docs", name)
	}
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "roost_") {
			t.Errorf("lint %s: %s", p.Metric, p.Text)
		}
	}
}

func TestSources_GaugesReadAtScrape(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	active := 3
	m.SetSources(metrics.Sources{
		Active:        func() int { return active },
		Hibernated:    func() int { return 7 },
		QueueDepth:    func() map[string]int { return map[string]int{"counter": 1, "chat": 4} },
		MaxQueueDepth: func() int { return 3 },
		OpenDatabases: func() int { return 5 },
		PendingTimers: func() int { return 9 },
		WebSockets:    func() int { return 11 },
		SlowClosed:    func() int { return 2 },
		QueueClosed:   func() int { return 3 },
		QueuedBytes:   func() int { return 4096 },
	})
	_, body := scrape(t, m, "")
	wantLines(t, body,
		`roost_objects{state="active"} 3`,
		`roost_objects{state="hibernated"} 7`,
		`roost_queue_depth{class="chat"} 4`,
		`roost_queue_depth{class="counter"} 1`,
		`roost_queue_depth_max 3`,
		`roost_open_database_files 5`,
		`roost_timers_pending 9`,
		`roost_websockets 11`,
		`roost_websocket_slow_closed_total 2`,
		"# TYPE roost_websocket_slow_closed_total counter",
		`roost_websocket_overload_closed_total 3`,
		"# TYPE roost_websocket_overload_closed_total counter",
		`roost_websocket_queued_bytes 4096`,
		"# TYPE roost_websocket_queued_bytes gauge",
		"# TYPE roost_objects gauge",
		"# TYPE roost_queue_depth gauge",
	)
	active = 4 // the scrapes run on this goroutine, so no race
	_, body = scrape(t, m, "")
	wantLines(t, body, `roost_objects{state="active"} 4`)
}

func TestSources_NilFuncsReportNothing(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	gauges := []string{"roost_objects", "roost_queue_depth", "roost_queue_depth_max",
		"roost_open_database_files", "roost_timers_pending"}
	_, body := scrape(t, m, "")
	noSeries(t, body, gauges...)

	m.SetSources(metrics.Sources{Active: func() int { return 2 }})
	_, body = scrape(t, m, "")
	wantLines(t, body, `roost_objects{state="active"} 2`)
	if strings.Contains(body, `state="hibernated"`) {
		t.Error("scrape reports hibernated objects with a nil Hibernated func")
	}
	noSeries(t, body, gauges[1:]...)

	m.SetSources(metrics.Sources{PendingTimers: func() int { return 1 }})
	_, body = scrape(t, m, "")
	wantLines(t, body, `roost_timers_pending 1`)
	noSeries(t, body, "roost_objects")
}

func TestSources_PanicCostsOnlyItsSeries(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.Event("counter", "http", "ok")
	m.SetSources(metrics.Sources{Active: func() int { panic("boom") }})
	_, body := scrape(t, m, "")
	wantLines(t, body, `roost_events_total{class="counter",kind="http",status="ok"} 1`)
	// The handler counts a gathering error after serving, so the next scrape shows it.
	_, body = scrape(t, m, "")
	wantLines(t, body, `promhttp_metric_handler_errors_total{cause="gathering"} 1`)
}

func TestHandler_ServesTextFormatWithRuntimeMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	ct, body := scrape(t, m, "")
	if !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q, want the Prometheus text format", ct)
	}
	for _, name := range []string{"go_goroutines", "go_gc_duration_seconds", "process_open_fds", "process_resident_memory_bytes"} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("scrape has no %s", name)
		}
	}
}

func TestHandler_ServesOpenMetricsWhenAsked(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.Activated("counter")
	ct, body := scrape(t, m, "application/openmetrics-text;version=1.0.0")
	if !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("Content-Type = %q, want OpenMetrics", ct)
	}
	if !strings.HasSuffix(body, "# EOF\n") {
		t.Error("OpenMetrics body does not end with # EOF")
	}
	// OpenMetrics names the counter family without _total and its sample with it.
	wantLines(t, body,
		"# TYPE roost_activations counter",
		`roost_activations_total{class="counter"} 1.0`,
	)
	if !strings.Contains(body, "\ngo_goroutines") || !strings.Contains(body, "\nprocess_open_fds") {
		t.Error("OpenMetrics scrape lacks go_goroutines or process_open_fds")
	}
}

func TestMetrics_ConcurrentRecordAndScrape(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	recordAll(m)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			m.Event("counter", "http", "ok")
			m.Commit(time.Millisecond, nil)
		}
	}()
	for range 5 {
		scrape(t, m, "")
		recordAll(m)
	}
	<-done
	_, body := scrape(t, m, "")
	wantLines(t, body,
		`roost_events_total{class="counter",kind="http",status="ok"} 1006`,
		`roost_commit_duration_seconds_count 1006`,
	)
}
