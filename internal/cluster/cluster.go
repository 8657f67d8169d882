// Package cluster makes one Roost node a member of a cluster: it runs the
// node's embedded NATS server (or connects to an existing NATS cluster),
// holds the node's shard leases (internal/shards), keeps every object's
// replicated log (internal/objlog), and forwards requests and calls for
// objects that other nodes own.
//
// Data path of a write in cluster mode: a request reaches any node; the
// node finds the object's shard and, unless it holds that shard's lease
// itself, forwards the request over HTTP to the owner (Forward). On the
// owner the event runs as on a single node; its commit is appended to the
// object's log in JetStream (objlog.Log, the store's Log) and only once a
// quorum acknowledged it does the output gate release the answer. An owner
// that lost its lease or was fenced acknowledges nothing: its commits fail
// with not_owner and its instances are discarded.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/natsd"
	"github.com/roost-dev/roost/internal/objlog"
	"github.com/roost-dev/roost/internal/shards"
	"github.com/roost-dev/roost/internal/store"
)

// Defaults of [Config].
const (
	DefaultLease  = 3 * time.Second
	DefaultShards = 64
)

// Config configures a node's membership in a cluster.
type Config struct {
	// Node is this node's name, unique in the cluster. Required.
	Node string
	// Listen is the address of this node's cluster (route) listener of its
	// embedded NATS server; Join lists the other nodes' route addresses.
	Listen string
	Join   []string
	// NATSURL, if set, uses an existing NATS cluster instead of an
	// embedded server (Listen and Join are then unused).
	NATSURL string
	// Advertise is the HTTP address other nodes forward requests to.
	// Required.
	Advertise string
	// Shards is the number of shards when the cluster is created; an
	// existing cluster keeps its own. Default DefaultShards.
	Shards int
	// Replicas of the streams; default min(3, number of nodes).
	Replicas int
	// Lease is the shard lease; default DefaultLease.
	Lease time.Duration
	// Secret authenticates requests between nodes; empty: a node accepts
	// forwarded requests from loopback addresses only.
	Secret string
	// Dir is the data directory; the embedded server stores JetStream's
	// files under Dir/nats.
	Dir string
	// Logger receives the cluster's logs. Required.
	Logger *slog.Logger
}

// Cluster is one node's membership in a cluster.
type Cluster struct {
	cfg     Config
	srv     *natsd.Server // nil with NATSURL
	nc      *nats.Conn
	js      jetstream.JetStream
	shards  *shards.Manager
	log     *objlog.Log
	wakes   jetstream.KeyValue
	client  *http.Client
	metrics *Metrics
	evict   atomic.Pointer[Evictor]
	// acquired is what to do with a shard this node takes (SetAcquired);
	// its runs are joined by wg and canceled by stop at Close.
	acquired atomic.Pointer[func(ctx context.Context, shard int) error]
	ctx      context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
	closed   atomic.Bool
}

// Evictor makes the node's live objects that match leave memory (their
// events done and committed), returning when they have or ctx ended.
type Evictor func(ctx context.Context, match func(class string, id ids.ID) bool) error

// Start joins the cluster: it starts the embedded NATS server (or connects
// to Config.NATSURL), opens the log and the shard leases, and returns once
// the node can serve. ctx bounds the start.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, metrics: newMetrics(), client: newClient()}
	c.ctx, c.stop = context.WithCancel(context.Background())
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	var err error
	c.js, err = jetstream.New(c.nc)
	if err == nil {
		err = c.open(ctx, c.js)
	}
	if err != nil {
		c.stop()
		c.disconnect()
		return nil, err
	}
	return c, nil
}

func (cfg *Config) fill() error {
	if cfg.Node == "" || cfg.Advertise == "" || cfg.Logger == nil {
		return errors.New("cluster: config: Node, Advertise and Logger are required")
	}
	if cfg.NATSURL == "" && cfg.Listen == "" {
		return errors.New("cluster: config: Listen (the cluster address of the embedded NATS server) or NATSURL is required")
	}
	if cfg.Lease == 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Lease < 500*time.Millisecond {
		return fmt.Errorf("cluster: config: Lease: at least 500ms, got %v", cfg.Lease)
	}
	if cfg.Shards == 0 {
		cfg.Shards = DefaultShards
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = min(3, 1+len(cfg.Join))
		if cfg.NATSURL != "" {
			cfg.Replicas = 3
		}
	}
	return nil
}

func (c *Cluster) connect(ctx context.Context) error {
	var err error
	if c.cfg.NATSURL != "" {
		c.nc, err = natsd.Connect(c.cfg.NATSURL, c.cfg.Node)
		return err
	}
	c.srv, err = natsd.Start(ctx, natsd.Config{Name: c.cfg.Node, Dir: filepath.Join(c.cfg.Dir, "nats"),
		Cluster: c.cfg.Listen, Join: c.cfg.Join, Logger: c.cfg.Logger})
	if err != nil {
		return err
	}
	if c.nc, err = c.srv.Connect(); err != nil {
		c.srv.Close()
	}
	return err
}

// open opens the log and the wake index, then the shard leases: the
// shards' loop may hand a shard over (release, which uses the log) as soon
// as it starts.
func (c *Cluster) open(ctx context.Context, js jetstream.JetStream) error {
	err := placed(ctx, func() (err error) {
		c.log, err = objlog.Open(ctx, objlog.Config{JS: js, Replicas: c.cfg.Replicas, Lease: c.Holds,
			Logger: c.cfg.Logger, Observer: c.metrics})
		return err
	})
	if err != nil {
		return fmt.Errorf("cluster: log: %w", err)
	}
	if err = placed(ctx, func() (err error) { c.wakes, err = openWakes(ctx, js, c.cfg.Replicas); return err }); err != nil {
		return err
	}
	err = placed(ctx, func() (err error) {
		c.shards, err = shards.Start(ctx, shards.Config{JS: js, Node: c.cfg.Node, Addr: c.cfg.Advertise,
			Shards: c.cfg.Shards, Replicas: c.cfg.Replicas, Lease: c.cfg.Lease, Logger: c.cfg.Logger, Release: c.release, Acquired: c.onAcquired})
		return err
	})
	if err != nil {
		return fmt.Errorf("cluster: shards: %w", err)
	}
	return nil
}

func (c *Cluster) disconnect() {
	if c.nc != nil {
		c.nc.Close()
	}
	if c.srv != nil {
		c.srv.Close()
	}
}

// Log is the store's replicated log.
func (c *Cluster) Log() store.Log { return c.log }

// Snapshot snapshots the object if its log outgrew its database (see
// objlog.Log.MaybeSnapshot); the node calls it in the object's turn after
// a commit.
func (c *Cluster) Snapshot(class string, id ids.ID, db objlog.Imager) {
	c.log.MaybeSnapshot(class, id, db)
}

// SetEvictor tells the cluster how to make objects leave the node when it
// hands their shard over or loses it.
func (c *Cluster) SetEvictor(e Evictor) { c.evict.Store(&e) }

// shardOf returns the object's shard.
func (c *Cluster) shardOf(class string, id ids.ID) int {
	return c.shards.ShardOf(class + "/" + id.String())
}

// Local reports whether this node takes new events for the object: it
// holds the lease of the object's shard now (epoch) and is not handing the
// shard over.
func (c *Cluster) Local(class string, id ids.ID) (epoch uint64, ok bool) {
	return c.shards.Accepting(c.shardOf(class, id))
}

// Keeps reports whether this node still has the lease of the object's
// shard, even one whose renewal is late or that it is handing over (see
// [shards.Manager.Kept]): work of the object found while Local is false
// must then wait, since the shard is not taken over again if the renewal
// lands.
func (c *Cluster) Keeps(class string, id ids.ID) bool {
	return c.shards.Kept(c.shardOf(class, id))
}

// Holds reports whether this node holds the lease of the object's shard
// now, and its epoch: only then may it acknowledge anything of the object
// (a shard being handed over is held until its last events committed).
func (c *Cluster) Holds(class string, id ids.ID) (epoch uint64, ok bool) {
	return c.shards.Holds(c.shardOf(class, id))
}

// release makes the objects of a shard leave this node before the shard is
// handed over (fenced: the lease is lost already, so nothing of theirs can
// be acknowledged any more).
func (c *Cluster) release(ctx context.Context, shard int, fenced bool) {
	match := func(class string, id ids.ID) bool { return c.shardOf(class, id) == shard }
	if fenced {
		c.metrics.fences.Inc()
		c.cfg.Logger.Warn("shard lease lost: its objects are discarded here", "shard", shard)
	}
	if e := c.evict.Load(); e != nil {
		if err := (*e)(ctx, match); err != nil {
			c.cfg.Logger.Warn("evict a shard's objects", "shard", shard, "err", err)
		}
	}
	c.log.Forget(match)
}

// Drain moves every shard of node away (see shards.Manager.Drain).
func (c *Cluster) Drain(ctx context.Context, node string) error { return c.shards.Drain(ctx, node) }

// Metrics returns the cluster's Prometheus collectors.
func (c *Cluster) Metrics() *Metrics { return c.metrics }

// Close hands this node's shards over (their objects leave first, so the
// evictor must still work), then leaves the cluster. ctx bounds it.
func (c *Cluster) Close(ctx context.Context) error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := c.shards.Close(ctx)
	c.stop()
	c.wg.Wait()
	c.disconnect()
	return err
}

// SetAcquired tells the cluster what to do with each shard this node takes
// (at once for the shards it holds already): the node loads the shard's
// wakes. fn runs on its own goroutine, owned by the cluster, and again
// after a failure while this node holds the shard: a takeover after a
// node died often meets JetStream still electing new stream leaders.
func (c *Cluster) SetAcquired(fn func(ctx context.Context, shard int) error) {
	c.acquired.Store(&fn)
	for shard := range c.shards.Count() {
		if _, ok := c.shards.Holds(shard); ok {
			c.onAcquired(shard, "")
		}
	}
}

// onAcquired counts a failover and runs the SetAcquired function for a
// shard this node took.
func (c *Cluster) onAcquired(shard int, from string) {
	if from != "" && from != c.cfg.Node {
		c.metrics.failovers.Inc()
	}
	fn := c.acquired.Load()
	if fn == nil {
		return
	}
	c.wg.Go(func() { c.acquire(*fn, shard) })
}

// acquire runs fn for shard until it succeeds, this node no longer holds
// the shard, or the cluster closes.
func (c *Cluster) acquire(fn func(context.Context, int) error, shard int) {
	for {
		ctx, cancel := context.WithTimeout(c.ctx, 2*c.cfg.Lease)
		err := fn(ctx, shard)
		cancel()
		if err == nil {
			return
		}
		c.cfg.Logger.Warn("take a shard over: retrying", "shard", shard, "err", err)
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(c.cfg.Lease / 4):
		}
		if _, ok := c.shards.Holds(shard); !ok {
			return
		}
	}
}
