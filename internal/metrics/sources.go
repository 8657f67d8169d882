package metrics

import "github.com/prometheus/client_golang/prometheus"

// Sources are the functions the gauges are read from at scrape time. Each is
// called once per scrape, from the scraping goroutine, concurrently with the
// engine, so it must be safe for concurrent use and cheap. A nil func reports
// nothing.
type Sources struct {
	Active        func() int            // objects in memory
	Hibernated    func() int            // objects with storage, not in memory
	QueueDepth    func() map[string]int // pending events per class (sum over the class's objects)
	MaxQueueDepth func() int            // the deepest single object queue right now
	OpenDatabases func() int            // open database files (each holds 2 descriptors)
	PendingTimers func() int            // wakes scheduled in the node index
	WebSockets    func() int            // open WebSockets
	SlowClosed    func() int            // WebSockets closed so far for falling behind (a counter)
	QueueClosed   func() int            // WebSockets closed so far because all send queues were full (a counter)
	QueuedBytes   func() int            // bytes in the WebSockets' send queues, a broadcast once
}

// SetSources sets the functions the scrape-time gauges are read from. It is
// meant to be called once, after the components the funcs read from exist;
// calling it again replaces all of them.
func (m *Metrics) SetSources(s Sources) {
	if m == nil {
		return
	}
	m.sources.Store(&s)
}

var (
	objectsDesc = prometheus.NewDesc("roost_objects",
		"Objects by state: active (in memory) or hibernated (with storage, not in memory).",
		[]string{"state"}, nil)
	queueDepthDesc = prometheus.NewDesc("roost_queue_depth",
		"Events waiting to be delivered, summed over the objects of a class.",
		[]string{"class"}, nil)
	queueDepthMaxDesc = prometheus.NewDesc("roost_queue_depth_max",
		"Events waiting in the deepest single object queue.", nil, nil)
	openDatabasesDesc = prometheus.NewDesc("roost_open_database_files",
		"Object database files open; each holds 2 file descriptors (database and WAL).", nil, nil)
	timersPendingDesc = prometheus.NewDesc("roost_timers_pending",
		"Alarms, timers and cron wakes scheduled in the node's index.", nil, nil)
	webSocketsDesc = prometheus.NewDesc("roost_websockets",
		"WebSockets open, whether or not their objects are in memory.", nil, nil)
	slowClosedDesc = prometheus.NewDesc("roost_websocket_slow_closed_total",
		"WebSockets closed (1008) because they fell behind the messages sent to them.", nil, nil)
	queueClosedDesc = prometheus.NewDesc("roost_websocket_overload_closed_total",
		"WebSockets closed (1013) because the send queues of all sockets held their bound in bytes.", nil, nil)
	queuedBytesDesc = prometheus.NewDesc("roost_websocket_queued_bytes",
		"Bytes waiting in the WebSockets' send queues, a broadcast's message counted once.", nil, nil)
)

// sourceCollector reports the gauges read from Sources. It is Metrics under
// another method set, so it shares the sources pointer without a back
// reference.
type sourceCollector Metrics

// Describe sends every desc, making this a checked collector: the registry
// rejects a name clash at New rather than at the first scrape.
func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- objectsDesc
	ch <- queueDepthDesc
	ch <- queueDepthMaxDesc
	ch <- openDatabasesDesc
	ch <- timersPendingDesc
	ch <- webSocketsDesc
	ch <- slowClosedDesc
	ch <- queueClosedDesc
	ch <- queuedBytesDesc
}

// Collect calls the Sources funcs that are set.
func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.sources.Load()
	if s == nil {
		return
	}
	gauge(ch, objectsDesc, s.Active, "active")
	gauge(ch, objectsDesc, s.Hibernated, "hibernated")
	gauge(ch, queueDepthMaxDesc, s.MaxQueueDepth)
	gauge(ch, openDatabasesDesc, s.OpenDatabases)
	gauge(ch, timersPendingDesc, s.PendingTimers)
	gauge(ch, webSocketsDesc, s.WebSockets)
	gauge(ch, queuedBytesDesc, s.QueuedBytes)
	counter(ch, slowClosedDesc, s.SlowClosed)
	counter(ch, queueClosedDesc, s.QueueClosed)
	if s.QueueDepth != nil {
		for class, n := range s.QueueDepth() {
			ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(n), validUTF8(class))
		}
	}
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, f func() int) {
	if f != nil {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(f()))
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, f func() int, lvs ...string) {
	if f != nil {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(f()), lvs...)
	}
}
