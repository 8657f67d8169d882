package roost

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/roost-dev/roost/internal/node"
)

// App is a running Roost: the registered classes, their objects' storage
// beneath one data directory, the node's catalog of objects and timers, and
// the HTTP gateway in front of them.
type App struct {
	cfg Config
	n   *node.Node
}

// Open validates cfg, fills its defaults and opens the data directory. ctx
// bounds the opening only. Close the app when done.
//
// The data directory belongs to one app at a time: Open locks it first,
// and fails at once, touching nothing, if another app (in this or another
// process) has it open; the error names the other process.
//
// After a crash, Open brings the node's catalog up to date with the objects
// on disk before it returns (it logs its progress); alarms and timers that
// came due while the server was down fire once the app is open.
func Open(ctx context.Context, cfg Config) (*App, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	ws := cfg.WebSockets
	n, err := node.Open(ctx, node.Config{
		Dir: cfg.Dir, Sync: node.Sync(cfg.Durability), IdleTimeout: cfg.IdleTimeout, CheckpointAfter: cfg.CheckpointAfter, MaxActive: cfg.MaxActiveObjects,
		MaxPending: cfg.MaxPendingEvents, BlockTimeout: cfg.BlockConcurrencyTimeout,
		MaxKeySize: cfg.MaxKeySize, MaxValueSize: cfg.MaxValueSize, MaxDatabaseSize: cfg.MaxDatabaseSize,
		MaxBodyBytes: cfg.MaxBodyBytes, BodyTimeout: cfg.BodyTimeout, TimerRetry: node.RetryPolicy(cfg.TimerRetry), TimerConcurrency: cfg.TimerConcurrency,
		WebSockets: node.SocketLimits{MaxMessageBytes: ws.MaxMessageBytes, SendQueue: ws.SendQueue,
			MaxPerObject: ws.MaxPerObject, MaxTotal: ws.MaxTotal, AllowedOrigins: ws.AllowedOrigins,
			SendQueueBytes: ws.SendQueueBytes, QueuedBytesTotal: ws.QueuedBytesTotal, ThrottleWait: ws.ThrottleWait,
			WriteTimeout: ws.WriteTimeout},
		Admin: node.AdminLimits(cfg.Admin),
		Clock: cfg.Clock, Logger: cfg.Logger, Tracer: tp.Tracer(tracerName), Handlers: handlers{}, Faults: cfg.faults,
		Cluster: cfg.Cluster.node(),
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.Dir, err)
	}
	return &App{cfg: cfg, n: n}, nil
}

// tracerName names Roost's spans' instrumentation scope.
const tracerName = "github.com/roost-dev/roost"

// Drain starts a graceful stop, before [App.Close]: it tells the clients
// that wait that the server is stopping. Every WebSocket is closed with
// 1001 (going away) and no new one is accepted, and long polls built on the
// app (a workflow's Wait) answer at once with what they have. Events keep
// running and new requests are still served. It is safe to call more than
// once; Close calls it first.
//
// A program that serves the app with net/http calls it when its shutdown
// begins, so that http.Server.Shutdown does not wait for those clients:
//
//	srv.RegisterOnShutdown(app.Drain)
func (a *App) Drain() { a.n.Drain() }

// Draining returns a channel that is closed once the app drains (see
// [App.Drain]): components built on the app end their long waits on it.
func (a *App) Draining() <-chan struct{} { return a.n.Draining() }

// Close drains the app (see [App.Drain]), stops accepting events, lets
// in-flight and queued events finish and commit (bounded by ctx: after it
// ends, handlers see their context canceled, and Close still waits for
// them to return), closes every database and releases the data directory.
// It is safe to call more than once: later calls return the first one's
// result.
func (a *App) Close(ctx context.Context) error { return a.n.Close(ctx) }

// Handler returns the HTTP gateway: /{class}/{name}/... and
// /{class}/id/{hexid}/... reach the object's handler with the rest of the
// path; errors are JSON {"error":{"code":…,"message":…}}.
func (a *App) Handler() http.Handler { return a.n.Handler() }

// Handle mounts h on the gateway for pattern (http.ServeMux syntax). Patterns
// take precedence over object routes; use them for pages and APIs beside the
// objects.
func (a *App) Handle(pattern string, h http.Handler) { a.n.Handle(pattern, h) }

// MetricsHandler serves the app's Prometheus metrics (objects, events,
// commits, timers, RPC, queues, and the Go runtime's).
func (a *App) MetricsHandler() http.Handler { return a.n.Metrics().Handler() }

// RegisterMetrics adds collectors to the app's Prometheus registry (served
// by [App.MetricsHandler]): the metrics of components built on the app,
// such as the workflow engine. A name already registered is an error.
func (a *App) RegisterMetrics(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := a.n.Metrics().Registry().Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}

// Clock returns the app's clock ([Config.Clock]).
func (a *App) Clock() Clock { return a.cfg.Clock }

// Logger returns the app's logger ([Config.Logger]).
func (a *App) Logger() *slog.Logger { return a.cfg.Logger }

// ActiveObjects returns the number of object instances in memory.
func (a *App) ActiveObjects() int { return a.n.Active() }

// WaitActiveObjects blocks until ok(number of objects in memory) holds or ctx
// ends. Tests use it to wait for eviction without sleeping.
func (a *App) WaitActiveObjects(ctx context.Context, ok func(n int) bool) error {
	return a.n.WaitActive(ctx, ok)
}

// Busy marks work in progress that a component built on the app does
// outside the app's events, such as a workflow's run between its steps,
// until done is called (once): [App.WaitIdle] waits for it. Count the work
// before the event that starts it ends, so that the app never looks idle in
// between.
func (a *App) Busy() (done func()) { return a.n.Busy() }

// WaitIdle blocks until the app is idle, or ctx ends: no event queued or
// running, no alarm or timer due that has not fired, and no [App.Busy]
// work. An idle app stays idle until its clock moves or a client sends it
// something, so a test that moves a virtual clock waits here for what the
// move woke (package roosttest does, in Advance).
func (a *App) WaitIdle(ctx context.Context) error { return a.n.WaitIdle(ctx) }
