package main

import (
	"cmp"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roost-dev/roost/internal/listen"
)

// ownFiles is what the server keeps of the open-file limit for its files
// other than objects' databases: the standard streams, the data
// directory's lock, the catalog (database, WAL and shared memory), the
// spare files, imports and exports in progress, SQLite's temporary files
// and outgoing connections (traces). A fresh server holds about 25.
const ownFiles = 128

// filesPerObject is what an object in memory holds: its database and WAL.
const filesPerObject = 2

// defaultMaxActive is roost.Config's default of MaxActiveObjects, which
// --max-active 0 selects.
const defaultMaxActive = 256

// listenConfig returns the bounds of the server's clients. Client
// connections get what the open-file limit leaves after the objects' files
// (--max-active of them in memory) and the server's own: so neither can
// starve the other of descriptors. An explicit --max-conns over that fails
// here, before anything starts, rather than with EMFILE under load.
func (o serveOptions) listenConfig(log *slog.Logger) (listen.Config, error) {
	if o.maxConns < 0 {
		return listen.Config{}, fmt.Errorf("--max-conns must be ≥ 0 (0: the open-file limit's share), got %d", o.maxConns)
	}
	reserved := filesPerObject*cmp.Or(o.maxActive, defaultMaxActive) + ownFiles
	budget, err := listen.Budget(reserved)
	if err != nil {
		return listen.Config{}, fmt.Errorf("%w: raise it (ulimit -n) or lower --max-active", err)
	}
	if o.maxConns > budget {
		return listen.Config{}, fmt.Errorf("--max-conns %d does not fit the open-file limit: it leaves %d client connections "+
			"after %d descriptors for objects' files (2 × --max-active) and the server's own; lower --max-conns or --max-active, or raise the limit (ulimit -n)",
			o.maxConns, budget, reserved)
	}
	return listen.Config{MaxConns: cmp.Or(o.maxConns, budget), HeaderTimeout: o.httpHeaderTimeout,
		IdleTimeout: o.httpIdleTimeout, Logger: log}, nil
}

// connMetrics exports the listener's counts: roost_http_connections_open
// and roost_http_connections_refused_total.
func connMetrics(ln *listen.Listener) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roost_http_connections_open",
			Help: "Client connections open, WebSockets included (at most --max-conns)."},
			func() float64 { return float64(ln.Open()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "roost_http_connections_refused_total",
			Help: "Connections answered 503 overloaded and closed because --max-conns were open."},
			func() float64 { return float64(ln.Refused()) }),
	}
}
