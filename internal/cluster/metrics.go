package cluster

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the cluster's Prometheus collectors.
type Metrics struct {
	appendSeconds  prometheus.Histogram
	appendFailures prometheus.Counter
	fences         prometheus.Counter
	failovers      prometheus.Counter
	restoreSeconds *prometheus.HistogramVec
	snapshotBytes  prometheus.Histogram
	corrupt        prometheus.Counter
	forwardSeconds *prometheus.HistogramVec
}

func newMetrics() *Metrics {
	buckets := prometheus.ExponentialBuckets(0.00025, 2, 16)
	return &Metrics{
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "roost_cluster_replication_seconds",
			Help: "Time to append one commit to its object's replicated log (a quorum's acknowledgement).", Buckets: buckets}),
		appendFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "roost_cluster_publish_failures_total",
			Help: "Commits the replicated log did not acknowledge (not acknowledged to clients either)."}),
		fences: prometheus.NewCounter(prometheus.CounterOpts{Name: "roost_cluster_fences_total",
			Help: "Times this node found itself fenced: a shard lease lost, or another node appended to an object's log."}),
		failovers: prometheus.NewCounter(prometheus.CounterOpts{Name: "roost_cluster_failovers_total",
			Help: "Shards this node took over from a node whose lease had expired."}),
		restoreSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "roost_cluster_restore_seconds",
			Help: "Time to restore an object from its replicated log (snapshot and records), by result.", Buckets: buckets}, []string{"result"}),
		snapshotBytes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "roost_cluster_snapshot_bytes",
			Help: "Sizes of the snapshots that bound objects' logs.", Buckets: prometheus.ExponentialBuckets(4096, 4, 12)}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{Name: "roost_cluster_corrupt_logs_total",
			Help: "Object logs that did not verify at restore (the objects were refused)."}),
		forwardSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "roost_cluster_forward_seconds",
			Help: "Time of requests and calls forwarded to the owner node, by result.", Buckets: buckets}, []string{"result"}),
	}
}

// Collectors returns the collectors, for a registry.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.appendSeconds, m.appendFailures, m.fences, m.failovers, m.restoreSeconds, m.snapshotBytes,
		m.corrupt, m.forwardSeconds}
}

// Appended records one append (objlog.Observer).
func (m *Metrics) Appended(d time.Duration, _ int, err error) {
	if err != nil {
		m.appendFailures.Inc()
		return
	}
	m.appendSeconds.Observe(d.Seconds())
}

// Fenced records an append refused by the log's fence (objlog.Observer).
func (m *Metrics) Fenced() { m.fences.Inc() }

// Restored records a restore (objlog.Observer).
func (m *Metrics) Restored(d time.Duration, _ int, err error) {
	m.restoreSeconds.WithLabelValues(result(err)).Observe(d.Seconds())
}

// Snapshot records a snapshot's size (objlog.Observer).
func (m *Metrics) Snapshot(bytes int64) { m.snapshotBytes.Observe(float64(bytes)) }

// Corrupt records a log that did not verify (objlog.Observer).
func (m *Metrics) Corrupt() { m.corrupt.Inc() }

func (m *Metrics) forwarded(d time.Duration, err error) {
	m.forwardSeconds.WithLabelValues(result(err)).Observe(d.Seconds())
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
