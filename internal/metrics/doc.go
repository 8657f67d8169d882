// Package metrics holds Roost's Prometheus metrics.
//
// It sits beside the engine rather than under it: the node (internal/node)
// owns the [*Metrics] and calls its recording methods (Activated, Event,
// Commit, TimerRun, RPC, ...) from the runtime's hooks, its timer fires and
// its calls; the root package serves [Metrics.Handler] as
// roost.App.MetricsHandler, which cmd/roost mounts on GET /metrics, and
// components built on the app (the workflow engine) add their collectors to
// [Metrics.Registry]. A nil *Metrics records nothing, so code built without
// metrics calls the same methods and needs no checks.
//
// The metrics live on their own [prometheus.Registry] together with the Go
// runtime and process collectors, never on the global default registry, so
// two apps in one process (as in tests) do not collide and a library linked
// into the binary cannot leak series into Roost's scrape.
//
// Gauges that describe the current state (objects in memory, queue depths,
// open database files, pending timers) are not kept up to date on the hot
// path: they are read at scrape time from the functions in [Sources], which
// the node sets once after construction.
//
// Label values are bounded by design: class names are the registered classes,
// methods are the methods those classes declare, statuses are "ok" or a
// stable error code from internal/errcode, and eviction reasons and event
// kinds are small fixed sets. Never pass an object ID, a URL path or an error
// message as a label value.
package metrics
