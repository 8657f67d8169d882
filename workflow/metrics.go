package workflow

import "github.com/prometheus/client_golang/prometheus"

// metrics are the engine's Prometheus metrics, on the app's registry.
type metrics struct {
	created  *prometheus.CounterVec
	finished *prometheus.CounterVec
	attempts *prometheus.CounterVec
	purged   *prometheus.CounterVec
}

// newMetrics makes the engine's metrics and registers them with its app.
// Label values are workflow names (defined by the program), statuses and
// attempt results: bounded sets.
func newMetrics(e *Engine) (*metrics, error) {
	m := &metrics{
		created: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roost_workflow_instances_created_total",
			Help: "Workflow instances created, by workflow."}, []string{"workflow"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roost_workflow_instances_finished_total",
			Help: "Workflow instances that ended, by workflow and status (complete, errored, terminated)."}, []string{"workflow", "status"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roost_workflow_step_attempts_total",
			Help: "Attempts of workflow steps, by workflow and result (ok; retry: failed, retried later; failed: failed for good)."},
			[]string{"workflow", "result"}),
		purged: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roost_workflow_instances_purged_total",
			Help: "Finished workflow instances purged with their journals (retention, or Engine.Purge), by workflow."}, []string{"workflow"}),
	}
	runs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roost_workflow_runs",
		Help: "Workflow instances whose functions run now (sleeping and waiting ones do not)."},
		func() float64 { running, _ := e.runCounts(); return float64(running) })
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roost_workflow_runs_queued",
		Help: "Workflow instances waiting for a run slot (Options.MaxRunning)."},
		func() float64 { _, queued := e.runCounts(); return float64(queued) })
	waits := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roost_workflow_waits",
		Help: "Callers waiting for an instance's end now (Instance.Wait, GET …?wait=)."},
		func() float64 { return float64(e.waitCount()) })
	if err := e.app.RegisterMetrics(m.created, m.finished, m.attempts, m.purged, runs, queued, waits); err != nil {
		return nil, err
	}
	return m, nil
}

// runCounts returns the numbers of live and queued runs.
func (e *Engine) runCounts() (running, queued int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.live), len(e.queue)
}

// waitCount returns the number of callers waiting for an instance's end.
func (e *Engine) waitCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ws := range e.waiters {
		n += len(ws)
	}
	return n
}
