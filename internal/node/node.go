package node

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

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/roost-dev/roost/internal/catalog"
	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/cluster"
	"github.com/roost-dev/roost/internal/gateway"
	"github.com/roost-dev/roost/internal/metrics"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/scheduler"
	"github.com/roost-dev/roost/internal/sockets"
	"github.com/roost-dev/roost/internal/store"
)

// Config configures a [Node]. The root package fills it from roost.Config,
// which validates the fields and documents their defaults; a zero field
// here means the component's own default.
type Config struct {
	// Dir is the data directory. Required.
	Dir string
	// Sync is the durability of commits; default store.SyncFull.
	Sync store.Sync
	// IdleTimeout, MaxActive, MaxPending and BlockTimeout configure the
	// runtime (see runtime.Config).
	IdleTimeout           time.Duration
	MaxActive, MaxPending int
	BlockTimeout          time.Duration
	// MaxKeySize, MaxValueSize and MaxDatabaseSize configure the store (see
	// store.Config).
	MaxKeySize, MaxValueSize int
	MaxDatabaseSize          int64
	// CheckpointAfter configures the store (see store.Config).
	CheckpointAfter time.Duration
	// MaxBodyBytes bounds request bodies at the gateway, and BodyTimeout
	// the time a client takes to send one (see gateway.Config).
	MaxBodyBytes int64
	BodyTimeout  time.Duration
	// Admin bounds the operator's admin operations.
	Admin AdminLimits
	// TimerRetry is how failed alarm and timer runs are retried. Required:
	// the root package fills its defaults.
	TimerRetry RetryPolicy
	// TimerConcurrency bounds the wakes delivered at once (scheduler workers).
	TimerConcurrency int
	// WebSockets bounds and guards sockets.
	WebSockets SocketLimits
	// Clock is the time source. Required.
	Clock clock.Clock
	// Logger receives the node's logs. Required.
	Logger *slog.Logger
	// Tracer makes spans around events, commits and calls. Defaults to a
	// no-op.
	Tracer trace.Tracer
	// Handlers reach the user's code in instances. Required.
	Handlers Handlers
	// Faults injects storage failures (tests only).
	Faults *store.Faults
	// Cluster, if set, makes the node a member of a cluster (its Dir and
	// Logger are the node's). Nil: a single node.
	Cluster *ClusterConfig
}

// ClusterConfig configures a node's membership in a cluster.
type ClusterConfig = cluster.Config

// AdminLimits bound the admin operations (see roost.AdminConfig). The
// root package fills the defaults.
type AdminLimits struct {
	// SQLTimeout bounds an admin SQL request in the object's turn; ≤ 0:
	// none.
	SQLTimeout time.Duration
	// SQLMaxBytes bounds the rows of an SQL answer, as JSON.
	SQLMaxBytes int64
	// ImportMaxBytes bounds an imported file.
	ImportMaxBytes int64
}

// SocketLimits bound and guard WebSockets (see sockets.Config).
type SocketLimits struct {
	MaxMessageBytes        int64
	SendQueue              int
	SendQueueBytes         int64
	QueuedBytesTotal       int64
	ThrottleWait           time.Duration
	WriteTimeout           time.Duration
	MaxPerObject, MaxTotal int
	AllowedOrigins         []string
}

// Node is the engine of one Roost node: it opens the data directory and
// ties the store, the catalog, the wake index and its scheduler, the
// runtime, the sockets and the gateway together. The root package wraps it
// as roost.App.
type Node struct {
	cfg      Config
	log      *slog.Logger
	store    *store.Store
	catalog  *catalog.Catalog
	wakes    *wakes
	sched    *scheduler.Scheduler
	rt       *runtime.Runtime
	gw       *gateway.Gateway
	hub      *sockets.Hub
	metrics  *metrics.Metrics
	tracer   trace.Tracer
	handlers Handlers
	work     *work
	// cluster is the node's cluster membership; nil on a single node.
	cluster *cluster.Cluster

	classes sync.Map // class name → *Class
	parkMu  sync.Mutex
	parked  map[string][]scheduler.Key // wakes of unregistered classes

	// indexed are the wakes the startup check found (see reconcile); start
	// schedules them, as the catalog may not have them on a full disk.
	indexed []indexedWake

	drainOnce sync.Once
	draining  chan struct{} // closed by Drain
	closeOnce sync.Once
	closeErr  error
}

// Files of the data directory besides the objects.
const (
	catalogFile = "catalog.db"
	// cleanFile exists while the catalog is known to match the objects on
	// disk: it is removed at Open and written by a clean Close. Without it,
	// Open reconciles the catalog with the files (after a crash).
	cleanFile = "catalog.clean"
)

// Open opens the data directory and starts the node's loops. ctx bounds
// the opening only. The store locks the directory first: a second node on
// it fails at once and touches nothing.
//
// After a crash, Open brings the catalog up to date with the objects on
// disk before it returns (logging its progress); alarms and timers that
// came due while the node was down fire once it is open.
func Open(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Handlers == nil {
		return nil, errors.New("node: config: Handlers: must be set")
	}
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider().Tracer("")
	}
	n := &Node{cfg: cfg, log: cfg.Logger, metrics: metrics.New(), tracer: cfg.Tracer, handlers: cfg.Handlers,
		work: newWork(), parked: map[string][]scheduler.Key{}, draining: make(chan struct{})}
	n.wakes = &wakes{indexed: map[catalog.Key]indexedAt{}}
	scfg := store.Config{
		Dir: cfg.Dir, Synchronous: cfg.Sync, MaxKeySize: cfg.MaxKeySize, MaxValueSize: cfg.MaxValueSize,
		MaxDatabaseSize: cfg.MaxDatabaseSize, Faults: cfg.Faults, Timers: n.wakes, CheckpointAfter: cfg.CheckpointAfter,
	}
	if cfg.Cluster != nil {
		// The log is the truth: a local file is a cache restored from it.
		scfg.Log, scfg.Synchronous = clusterLog{n}, store.SyncNormal
	}
	st, err := store.Open(scfg)
	if err != nil {
		return nil, err
	}
	n.store = st
	if err := n.joinCluster(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if err := n.openCatalog(ctx); err != nil {
		n.leaveCluster(ctx)
		st.Close()
		return nil, err
	}
	if err := n.start(ctx); err != nil {
		n.leaveCluster(ctx)
		n.catalog.Close()
		st.Close()
		return nil, err
	}
	return n, nil
}

// start makes the components above the store and the catalog, loads the
// pending wakes and starts the loops.
func (n *Node) start(ctx context.Context) error {
	cfg := n.cfg
	ws := cfg.WebSockets
	n.hub = sockets.New(sockets.Config{Deliver: n.deliverSocket, Logger: cfg.Logger,
		MaxMessageBytes: ws.MaxMessageBytes, SendQueue: ws.SendQueue, MaxPerObject: ws.MaxPerObject, MaxTotal: ws.MaxTotal,
		SendQueueBytes: ws.SendQueueBytes, QueuedBytesTotal: ws.QueuedBytesTotal, ThrottleWait: ws.ThrottleWait,
		WriteTimeout: ws.WriteTimeout, CheckOrigin: checkOrigin(ws.AllowedOrigins)})
	n.sched = scheduler.New(scheduler.Config{Clock: cfg.Clock, Fire: n.fire, Workers: cfg.TimerConcurrency, Busy: n.work.add})
	n.wakes.cat, n.wakes.sched = n.catalog, n.sched
	rt, err := runtime.New(runtime.Config{
		Store: n.store, Clock: cfg.Clock, Logger: cfg.Logger, IdleTimeout: cfg.IdleTimeout,
		MaxActive: cfg.MaxActive, MaxPending: cfg.MaxPending, BlockTimeout: cfg.BlockTimeout,
		Hooks: hooks{n}, Tracer: n.tracer, Busy: n.work.add,
	})
	if err != nil {
		return err
	}
	n.rt = rt
	n.gw, err = gateway.New(gateway.Config{Objects: gatewayObjects{n}, MaxBodyBytes: cfg.MaxBodyBytes,
		BodyTimeout: cfg.BodyTimeout, Logger: cfg.Logger})
	var pending int
	if err == nil {
		pending, err = n.wakes.load(ctx)
	}
	if err != nil {
		rt.Close(ctx)
		return err
	}
	for _, w := range n.indexed {
		n.wakes.Committed(w.key.Class, w.key.ID, w.at, w.count)
	}
	n.indexed = nil
	n.metrics.SetSources(n.metricSources())
	if n.cluster != nil {
		n.wakes.cluster = n.cluster
		n.cluster.SetEvictor(rt.Evict)
		n.cluster.SetAcquired(n.loadShardWakes)
	}
	n.sched.Start()
	n.hub.Start()
	n.log.Debug("node open", "dir", cfg.Dir, "pending_wakes", pending)
	return nil
}

// openCatalog opens the node catalog and, unless the last Close was clean,
// reconciles it with the objects on disk.
func (n *Node) openCatalog(ctx context.Context) error {
	// The catalog names every object: private, like the objects (SQLite
	// gives its WAL the same mode).
	path := filepath.Join(n.cfg.Dir, catalogFile)
	if f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	cat, err := catalog.Open(catalog.Config{Path: path, Synchronous: string(n.cfg.Sync), Logger: n.log})
	if err != nil {
		return err
	}
	n.catalog = cat
	clean := filepath.Join(n.cfg.Dir, cleanFile)
	_, statErr := os.Stat(clean)
	if err := os.Remove(clean); err != nil && !errors.Is(err, os.ErrNotExist) {
		cat.Close()
		return fmt.Errorf("catalog: %w", err)
	}
	if statErr == nil && !cat.New() {
		return nil
	}
	if err := n.reconcile(ctx); err != nil {
		cat.Close()
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// Drain starts a graceful stop: it tells the clients that wait that the
// node is stopping, before the events drain. Every WebSocket is closed
// with 1001 and no new one is accepted; [Node.Draining] is closed, so that
// long polls built on the node (a workflow's wait) answer now. Events still
// run. It is safe to call more than once; Close calls it first.
func (n *Node) Drain() {
	n.drainOnce.Do(func() {
		close(n.draining)
		n.hub.Drain()
	})
}

// Draining is closed once Drain was called.
func (n *Node) Draining() <-chan struct{} { return n.draining }

// Close drains the node (see Drain), stops accepting events, lets in-flight
// and queued events finish and commit (bounded by ctx: after it ends,
// handlers see their context canceled, and Close still waits for them),
// closes every database and releases the data directory. It is safe to call
// more than once: later calls return the first one's result.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() {
		n.Drain()
		hubErr := n.hub.Close(ctx) // waits for the sockets' close events to reach their objects
		// The shards are handed over while the runtime still commits the
		// events of their objects.
		clusterErr := n.leaveCluster(ctx)
		n.sched.Close()
		rtErr := n.rt.Close(ctx)
		err := n.catalog.Close()
		if err == nil && rtErr == nil {
			err = os.WriteFile(filepath.Join(n.cfg.Dir, cleanFile), nil, 0o600)
		}
		n.closeErr = errors.Join(rtErr, err, hubErr, clusterErr, n.store.Close())
	})
	return n.closeErr
}

// Handler returns the node's HTTP handler: the gateway, and in cluster
// mode the requests other nodes forward to this one.
func (n *Node) Handler() http.Handler { return handler{n} }

// Handle mounts h on the gateway for pattern (http.ServeMux syntax).
func (n *Node) Handle(pattern string, h http.Handler) { n.gw.Handle(pattern, h) }

// Metrics returns the node's metrics.
func (n *Node) Metrics() *metrics.Metrics { return n.metrics }

// Clock returns the node's clock.
func (n *Node) Clock() clock.Clock { return n.cfg.Clock }

// Logger returns the node's logger.
func (n *Node) Logger() *slog.Logger { return n.log }

// Tracer returns the tracer of the node's spans.
func (n *Node) Tracer() trace.Tracer { return n.tracer }

// MaxValueSize is the storage's value limit, in bytes.
func (n *Node) MaxValueSize() int { return n.store.Config().MaxValueSize }

// Active returns the number of object instances in memory.
func (n *Node) Active() int { return n.rt.Active() }

// WaitActive blocks until ok(number of objects in memory) holds or ctx
// ends.
func (n *Node) WaitActive(ctx context.Context, ok func(n int) bool) error {
	return n.rt.WaitActive(ctx, ok)
}
