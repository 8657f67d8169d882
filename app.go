package roost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/roost-dev/roost/internal/catalog"
	"github.com/roost-dev/roost/internal/gateway"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/metrics"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/scheduler"
	"github.com/roost-dev/roost/internal/sockets"
	"github.com/roost-dev/roost/internal/store"
)

// App is a running Roost: the registered classes, their objects' storage
// beneath one data directory, the node's catalog of objects and timers, and
// the HTTP gateway in front of them.
type App struct {
	cfg     Config
	log     *slog.Logger
	store   *store.Store
	catalog *catalog.Catalog
	wakes   *wakes
	sched   *scheduler.Scheduler
	rt      *runtime.Runtime
	gw      *gateway.Gateway
	hub     *sockets.Hub
	metrics *metrics.Metrics
	tracer  trace.Tracer
	classes sync.Map // class name → *classInfo
	parkMu  sync.Mutex
	parked  map[string][]scheduler.Key // wakes of unregistered classes

	closeOnce sync.Once
	closeErr  error
}

// classInfo is what the app knows of a registered class.
type classInfo struct {
	name           string
	alarms, timers bool // implements AlarmHandler, TimerHandler
	sockets        bool // implements WebSocketHandler
}

func (a *App) class(name string) *classInfo {
	c, ok := a.classes.Load(name)
	if !ok {
		return &classInfo{name: name}
	}
	return c.(*classInfo)
}

// Files of the data directory besides the objects.
const (
	catalogFile = "catalog.db"
	// cleanFile exists while the catalog is known to match the objects on
	// disk: it is removed at Open and written by a clean Close. Without it,
	// Open reconciles the catalog with the files (after a crash).
	cleanFile = "catalog.clean"
)

// Open validates cfg, fills its defaults and opens the data directory. ctx
// bounds the opening only. Close the app when done.
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
	a := &App{cfg: cfg, log: cfg.Logger, metrics: metrics.New(), parked: map[string][]scheduler.Key{}}
	a.wakes = &wakes{indexed: map[catalog.Key]time.Time{}}
	st, err := store.Open(store.Config{
		Dir: cfg.Dir, Synchronous: store.Sync(cfg.Durability), MaxKeySize: cfg.MaxKeySize,
		MaxValueSize: cfg.MaxValueSize, MaxDatabaseSize: cfg.MaxDatabaseSize, Faults: cfg.faults, Timers: a.wakes,
	})
	if err != nil {
		return nil, fmt.Errorf("roost: open: %w", err)
	}
	a.store = st
	if err := a.openCatalog(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("roost: open: %w", err)
	}
	ws := cfg.WebSockets
	a.hub = sockets.New(sockets.Config{Deliver: a.deliverSocket, Logger: cfg.Logger,
		MaxMessageBytes: ws.MaxMessageBytes, SendQueue: ws.SendQueue, MaxPerObject: ws.MaxPerObject, MaxTotal: ws.MaxTotal,
		CheckOrigin: checkOrigin(ws.AllowedOrigins)})
	a.sched = scheduler.New(scheduler.Config{Clock: cfg.Clock, Fire: a.fire, Workers: cfg.TimerConcurrency})
	a.wakes.cat, a.wakes.sched = a.catalog, a.sched
	tp := cfg.TracerProvider
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	a.tracer = tp.Tracer(tracerName)
	a.rt, err = runtime.New(runtime.Config{
		Store: st, Clock: cfg.Clock, Logger: cfg.Logger, IdleTimeout: cfg.IdleTimeout,
		MaxActive: cfg.MaxActiveObjects, MaxPending: cfg.MaxPendingEvents, BlockTimeout: cfg.BlockConcurrencyTimeout,
		Hooks: appHooks{a}, Tracer: a.tracer,
	})
	if err == nil {
		a.gw, err = gateway.New(gateway.Config{Objects: gatewayObjects{a}, MaxBodyBytes: cfg.MaxBodyBytes, Logger: cfg.Logger})
	}
	var n int
	if err == nil {
		n, err = a.wakes.load(ctx)
	}
	if err != nil {
		if a.rt != nil {
			a.rt.Close(ctx)
		}
		a.catalog.Close()
		st.Close()
		return nil, fmt.Errorf("roost: open: %w", err)
	}
	a.metrics.SetSources(a.metricSources())
	a.sched.Start()
	a.hub.Start()
	a.log.Debug("app open", "dir", cfg.Dir, "pending_wakes", n)
	return a, nil
}

// tracerName names Roost's spans' instrumentation scope.
const tracerName = "github.com/roost-dev/roost"

// openCatalog opens the node catalog and, unless the last Close was clean,
// reconciles it with the objects on disk.
func (a *App) openCatalog(ctx context.Context) error {
	// The catalog names every object: private, like the objects (SQLite
	// gives its WAL the same mode).
	path := filepath.Join(a.cfg.Dir, catalogFile)
	if f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	cat, err := catalog.Open(catalog.Config{Path: path,
		Synchronous: string(store.Sync(a.cfg.Durability)), Logger: a.log})
	if err != nil {
		return err
	}
	a.catalog = cat
	clean := filepath.Join(a.cfg.Dir, cleanFile)
	_, statErr := os.Stat(clean)
	if err := os.Remove(clean); err != nil && !errors.Is(err, os.ErrNotExist) {
		cat.Close()
		return fmt.Errorf("catalog: %w", err)
	}
	if statErr == nil && !cat.New() {
		return nil
	}
	if err := a.reconcile(ctx); err != nil {
		cat.Close()
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// Close stops accepting events, lets in-flight and queued events finish and
// commit (bounded by ctx: after it ends, handlers see their context
// canceled), closes every database and releases the data directory. It is
// safe to call more than once.
func (a *App) Close(ctx context.Context) error {
	a.closeOnce.Do(func() {
		hubErr := a.hub.Close(ctx) // 1001 to every client; their close events reach the objects
		a.sched.Close()
		a.closeErr = a.rt.Close(ctx)
		err := a.catalog.Close()
		if err == nil && a.closeErr == nil {
			err = os.WriteFile(filepath.Join(a.cfg.Dir, cleanFile), nil, 0o600)
		}
		a.closeErr = errors.Join(a.closeErr, err, hubErr, a.store.Close())
	})
	return a.closeErr
}

// Handler returns the HTTP gateway: /{class}/{name}/... and
// /{class}/id/{hexid}/... reach the object's handler with the rest of the
// path; errors are JSON {"error":{"code":…,"message":…}}.
func (a *App) Handler() http.Handler { return a.gw }

// Handle mounts h on the gateway for pattern (http.ServeMux syntax). Patterns
// take precedence over object routes; use them for pages and APIs beside the
// objects.
func (a *App) Handle(pattern string, h http.Handler) { a.gw.Handle(pattern, h) }

// MetricsHandler serves the app's Prometheus metrics (objects, events,
// commits, timers, RPC, queues, and the Go runtime's).
func (a *App) MetricsHandler() http.Handler { return a.metrics.Handler() }

// RegisterMetrics adds collectors to the app's Prometheus registry (served
// by [App.MetricsHandler]): the metrics of components built on the app,
// such as the workflow engine. A name already registered is an error.
func (a *App) RegisterMetrics(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := a.metrics.Registry().Register(c); err != nil {
			return fmt.Errorf("roost: register metrics: %w", err)
		}
	}
	return nil
}

// Clock returns the app's clock ([Config.Clock]).
func (a *App) Clock() Clock { return a.cfg.Clock }

// Logger returns the app's logger ([Config.Logger]).
func (a *App) Logger() *slog.Logger { return a.log }

// ActiveObjects returns the number of object instances in memory.
func (a *App) ActiveObjects() int { return a.rt.Active() }

// WaitActiveObjects blocks until ok(number of objects in memory) holds or ctx
// ends. Tests use it to wait for eviction without sleeping.
func (a *App) WaitActiveObjects(ctx context.Context, ok func(n int) bool) error {
	return a.rt.WaitActive(ctx, ok)
}

// gatewayObjects is the app as the gateway sees it.
type gatewayObjects struct{ a *App }

func (g gatewayObjects) HasClass(class string) bool {
	_, ok := g.a.rt.Class(class)
	return ok
}

func (g gatewayObjects) Fetch(ctx context.Context, class string, id ids.ID, name string, req *http.Request) (*http.Response, error) {
	return fetch(ctx, g.a, class, id, name, req)
}
