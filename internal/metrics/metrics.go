package metrics

import (
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are Roost's Prometheus metrics. A nil *Metrics is valid and records
// nothing (every method is nil-safe), so code paths need no checks. All
// methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler
	sources atomic.Pointer[Sources]

	activations    *prometheus.CounterVec
	evictions      *prometheus.CounterVec
	events         *prometheus.CounterVec
	commitDuration prometheus.Histogram
	commitFailures prometheus.Counter
	timerRuns      *prometheus.CounterVec
	timerRetries   *prometheus.CounterVec
	timerFailures  *prometheus.CounterVec
	rpcCalls       *prometheus.CounterVec
	rpcDuration    *prometheus.HistogramVec
	overloaded     *prometheus.CounterVec
}

// Buckets, in seconds. Commits are bound by fsync: tens of microseconds on a
// fast NVMe device up to about a second on a stalled disk, so the commit
// buckets double from 50µs to 0.8s. RPCs run user code and may wait for a
// commit, so their buckets are wider: 100µs, 400µs, 1.6ms, ... 26s.
var (
	commitBuckets = prometheus.ExponentialBuckets(50e-6, 2, 15)
	rpcBuckets    = prometheus.ExponentialBuckets(100e-6, 4, 10)
)

// New returns Metrics registered on a new registry, together with the Go
// runtime collector (go_*) and the process collector (process_*).
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.activations = m.counterVec("roost_activations_total",
		"Objects activated: loaded into memory to handle an event, by class.", "class")
	m.evictions = m.counterVec("roost_evictions_total",
		"Objects evicted from memory, by class and reason (idle, lru, shutdown, reset).", "class", "reason")
	m.events = m.counterVec("roost_events_total",
		"Events delivered to objects, by class, kind (http, rpc, alarm, timer, admin, call) and status (ok or the error code).",
		"class", "kind", "status")
	m.commitDuration = m.histogram("roost_commit_duration_seconds",
		"Time to commit one transaction to an object's database, failed commits included.", commitBuckets)
	m.commitFailures = m.counter("roost_commit_failures_total",
		"Commits that failed; the event's writes were rolled back.")
	m.timerRuns = m.counterVec("roost_timer_runs_total",
		"Alarm, timer and cron fires run, by class, kind (alarm, timer, cron) and status (ok, error).",
		"class", "kind", "status")
	m.timerRetries = m.counterVec("roost_timer_retries_total",
		"Alarm, timer and cron fires scheduled again after a failed run, by class and kind.", "class", "kind")
	m.timerFailures = m.counterVec("roost_timer_failures_total",
		"Alarm, timer and cron fires dropped because their retries were exhausted, by class and kind.", "class", "kind")
	m.rpcCalls = m.counterVec("roost_rpc_calls_total",
		"RPC calls to objects, by class, method and status (ok or the error code).", "class", "method", "status")
	m.rpcDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "roost_rpc_duration_seconds",
		Help:    "Duration of RPC calls to objects, from dispatch to reply, by class.",
		Buckets: rpcBuckets,
	}, []string{"class"})
	m.overloaded = m.counterVec("roost_overloaded_total",
		"Events refused because the object's queue was full, by class.", "class")
	m.reg.MustRegister(
		m.rpcDuration,
		(*sourceCollector)(m),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A failing Sources func or collector costs its own series, not the
		// whole scrape; promhttp_metric_handler_errors_total counts it.
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          m.reg,
		EnableOpenMetrics: true,
	})
	return m
}

func (m *Metrics) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.reg.MustRegister(v)
	return v
}

func (m *Metrics) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	m.reg.MustRegister(c)
	return c
}

func (m *Metrics) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
	m.reg.MustRegister(h)
	return h
}

// Handler serves the metrics for GET /metrics, in the Prometheus text format
// or, when the scraper asks for it, OpenMetrics. On a nil *Metrics it answers
// 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return m.handler
}

// Registry returns the registry the metrics live on, for registering more
// collectors. It is nil on a nil *Metrics.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Activated counts an activation of an object of class.
func (m *Metrics) Activated(class string) {
	if m == nil {
		return
	}
	inc(m.activations, class)
}

// Evicted counts an eviction of an object of class. The reason is one of
// idle, lru, shutdown or reset.
func (m *Metrics) Evicted(class, reason string) {
	if m == nil {
		return
	}
	inc(m.evictions, class, reason)
}

// Event counts one event delivered to an object of class. The kind is one of
// http, rpc, alarm, timer, admin or call; the status is "ok" or the error
// code the event ended with.
func (m *Metrics) Event(class, kind, status string) {
	if m == nil {
		return
	}
	inc(m.events, class, kind, status)
}

// Commit records one commit that took d, and counts it as failed if err is
// not nil.
func (m *Metrics) Commit(d time.Duration, err error) {
	if m == nil {
		return
	}
	m.commitDuration.Observe(d.Seconds())
	if err != nil {
		m.commitFailures.Inc()
	}
}

// TimerRun counts one run of a scheduled fire of an object of class. The kind
// is alarm, timer or cron; the status is ok or error.
func (m *Metrics) TimerRun(class, kind, status string) {
	if m == nil {
		return
	}
	inc(m.timerRuns, class, kind, status)
}

// TimerRetry counts a failed fire that was scheduled to run again.
func (m *Metrics) TimerRetry(class, kind string) {
	if m == nil {
		return
	}
	inc(m.timerRetries, class, kind)
}

// TimerGaveUp counts a fire whose retries were exhausted and that was dropped.
func (m *Metrics) TimerGaveUp(class, kind string) {
	if m == nil {
		return
	}
	inc(m.timerFailures, class, kind)
}

// RPC counts one RPC call to method on an object of class, ended with status
// ("ok" or the error code) after d.
func (m *Metrics) RPC(class, method, status string, d time.Duration) {
	if m == nil {
		return
	}
	inc(m.rpcCalls, class, method, status)
	if o, err := m.rpcDuration.GetMetricWithLabelValues(class); err == nil {
		o.Observe(d.Seconds())
	} else {
		m.rpcDuration.WithLabelValues(validUTF8(class)).Observe(d.Seconds())
	}
}

// Overloaded counts an event refused because the queue of an object of class
// was full.
func (m *Metrics) Overloaded(class string) {
	if m == nil {
		return
	}
	inc(m.overloaded, class)
}

// inc increments the child of v for the label values lvs. The only error
// GetMetricWithLabelValues can return here is a value that is not valid UTF-8
// (the label counts are fixed in this file), and WithLabelValues would panic
// on that. A bad value is repaired rather than dropped, so the event is still
// counted.
//
// The lookup hashes the label values under a read lock: about 70ns, no
// allocation. A sync.Map of children keyed by the label values measured about
// 33ns, but an event costs microseconds and a commit an fsync, so the saving
// does not pay for a second copy of every child. See BenchmarkEvent.
func inc(v *prometheus.CounterVec, lvs ...string) {
	c, err := v.GetMetricWithLabelValues(lvs...)
	if err != nil {
		for i, s := range lvs {
			lvs[i] = validUTF8(s)
		}
		c = v.WithLabelValues(lvs...)
	}
	c.Inc()
}

func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
