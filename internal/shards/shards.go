// Package shards places objects on the nodes of a cluster: object keys
// hash into a fixed number of shards, and each shard has at most one owner
// node at a time, which holds a lease on it recorded in a JetStream KV
// bucket as {node, epoch}.
//
// Leases and self-fencing: the owner renews each lease every third of the
// lease period with a compare-and-set on the key's revision. Its lease is
// valid until the start of its last successful renewal plus the period
// minus a margin, on its own monotonic clock; [Manager.Holds] checks that
// on every call, so a process paused past its lease (SIGSTOP, a long GC
// pause) finds itself fenced as soon as it runs again, before it can
// acknowledge anything. Another node takes a shard over only when it has
// seen the shard's revision unchanged for the full period plus the margin,
// with a compare-and-set that bumps the epoch: by then the old owner's
// lease has ended on its own clock.
//
// The placement a node sees (KV watches) is a hint for routing requests:
// KV reads may be stale. The proof of ownership is the node's own valid
// lease, and below it the per-object log's expected-sequence fence.
//
// Placement: the preferred owner of a shard is the live, non-draining
// member with the highest rendezvous hash for it. A node claims the free or
// expired shards it prefers; any node claims a shard left unclaimed for
// twice the period; a holder hands a shard over gracefully (Release, then
// the key is marked free) when another live member prefers it, when it is
// drained, and when it closes.
package shards

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roost-dev/roost/internal/clock"
)

// Buckets of the placement.
const (
	// LeasesBucket holds one key per shard, s.<n>, and the shard count.
	LeasesBucket = "ROOST_SHARDS"
	// MembersBucket holds one key per live node (its heartbeat) and the
	// drain marks, drain.<node>.
	MembersBucket = "ROOST_MEMBERS"
	countKey      = "count"
)

// Config configures a [Manager].
type Config struct {
	// JS is the JetStream the buckets live in. Required.
	JS jetstream.JetStream
	// Node is this node's name; Addr its HTTP address for forwarding.
	Node, Addr string
	// Shards is the count used when the cluster is first created; an
	// existing cluster's stored count wins. Default 64.
	Shards int
	// Replicas of the buckets. Default 1.
	Replicas int
	// Lease is the lease period. Default 3s.
	Lease time.Duration
	// Logger receives placement changes. Required.
	Logger *slog.Logger
	// Release is called before a shard this node holds is handed over
	// (fenced false: drain, rebalance, Close) and when the node finds its
	// lease lost (fenced true). The node stops serving the shard's objects
	// before it returns. Optional.
	Release func(ctx context.Context, shard int, fenced bool)
	// Acquired is called after this node took a shard; from is the node
	// whose lease had expired (a failover), "" for a free shard. Optional.
	Acquired func(shard int, from string)
}

// Member is a node of the cluster as the placement sees it.
type Member struct {
	Name     string `json:"name"`
	Addr     string `json:"addr"`
	Draining bool   `json:"draining,omitempty"`
}

// lease is the value of a shard's key. Node "" means free.
type lease struct {
	Node  string `json:"node"`
	Epoch uint64 `json:"epoch"`
}

// observed is a key as this node last saw it, and when its revision last
// changed (on this node's monotonic clock).
type observed struct {
	lease lease
	rev   uint64
	seen  time.Time
}

// holding is a shard this node holds.
type holding struct {
	epoch      uint64
	rev        uint64
	validUntil time.Time // monotonic
	releasing  bool      // being handed over: no new events
	final      bool      // its hand-over's last write is on its way: no more renewals
}

// memberView is a member as last seen.
type memberView struct {
	m    Member
	rev  uint64
	seen time.Time
}

// Manager holds this node's shard leases and watches the placement.
type Manager struct {
	cfg     Config
	leases  jetstream.KeyValue
	members jetstream.KeyValue
	count   int
	margin  time.Duration
	started time.Time

	mu       sync.Mutex
	held     map[int]*holding
	view     map[int]*observed
	lapsed   map[int]uint64    // shard: the revision of this node's lease that expired
	rereadAt map[int]time.Time // shard: when a stale view of it was last read again
	nodes    map[string]*memberView
	drains   map[string]bool // drain marks
	draining bool            // this node hands everything over (Close)
	changed  chan struct{}   // closed and replaced on every change
	// probe is the revision of this node's last heartbeat and watched the
	// highest revision the members watch delivered (see stalled); rewatch
	// asks the two watches (members, leases) to start again.
	probe, watched uint64
	rewatch        [2]chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start opens the buckets, joins the placement and starts renewing,
// claiming and watching. ctx bounds the start.
func Start(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.JS == nil || cfg.Node == "" || cfg.Logger == nil {
		return nil, errors.New("shards: config: JS, Node and Logger are required")
	}
	cfg.Shards = cmpOr(cfg.Shards, 64)
	cfg.Replicas = cmpOr(cfg.Replicas, 1)
	if cfg.Lease <= 0 {
		cfg.Lease = 3 * time.Second
	}
	m := &Manager{cfg: cfg, margin: cfg.Lease / 5, started: time.Now(), held: map[int]*holding{},
		view: map[int]*observed{}, lapsed: map[int]uint64{}, rereadAt: map[int]time.Time{}, nodes: map[string]*memberView{}, drains: map[string]bool{}, changed: make(chan struct{}),
		rewatch: [2]chan struct{}{make(chan struct{}, 1), make(chan struct{}, 1)}}
	var err error
	if m.leases, err = bucket(ctx, cfg.JS, LeasesBucket, cfg.Replicas); err != nil {
		return nil, err
	}
	if m.members, err = bucket(ctx, cfg.JS, MembersBucket, cfg.Replicas); err != nil {
		return nil, err
	}
	if m.count, err = m.shardCount(ctx); err != nil {
		return nil, err
	}
	_ = m.members.Delete(ctx, "drain."+cfg.Node) // a restarted node serves again
	if err := m.heartbeat(ctx); err != nil {
		return nil, err
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	if err := m.watch(ctx); err != nil {
		m.cancel()
		m.wg.Wait()
		return nil, err
	}
	m.wg.Go(m.loop)
	m.wg.Go(m.keep)
	return m, nil
}

func cmpOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func bucket(ctx context.Context, js jetstream.JetStream, name string, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, Storage: jetstream.FileStorage,
		Replicas: replicas, History: 1})
	if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		kv, err = js.KeyValue(ctx, name)
	}
	if err != nil {
		return nil, fmt.Errorf("shards: bucket %s: %w", name, err)
	}
	return kv, nil
}

// shardCount stores the configured count if the cluster has none yet (the
// first node to start wins) and returns the stored one.
func (m *Manager) shardCount(ctx context.Context) (int, error) {
	_, err := m.leases.Create(ctx, countKey, []byte(strconv.Itoa(m.cfg.Shards)))
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("shards: store the shard count: %w", err)
	}
	// The key exists, but a read served by a follower may not see it yet.
	e, err := m.leases.Get(ctx, countKey)
	for try := 0; errors.Is(err, jetstream.ErrKeyNotFound) && try < 50 && clock.Sleep(ctx, 100*time.Millisecond); try++ {
		e, err = m.leases.Get(ctx, countKey)
	}
	if err != nil {
		return 0, fmt.Errorf("shards: read the shard count: %w", err)
	}
	n, err := strconv.Atoi(string(e.Value()))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("shards: bad stored shard count %q", e.Value())
	}
	if n != m.cfg.Shards {
		m.cfg.Logger.Info("the cluster keeps its shard count", "shards", n, "configured", m.cfg.Shards)
	}
	return n, nil
}

// Count is the number of shards.
func (m *Manager) Count() int { return m.count }

// ShardOf returns the shard of an object key.
func (m *Manager) ShardOf(key string) int {
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(m.count))
}

func shardKey(s int) string { return "s." + strconv.Itoa(s) }

// Holds reports whether this node holds the shard's lease now, and its
// epoch: the lease is valid on this node's monotonic clock. A shard being
// handed over is still held (its last events commit).
func (m *Manager) Holds(shard int) (uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.held[shard]
	if h == nil || !time.Now().Before(h.validUntil) {
		return 0, false
	}
	return h.epoch, true
}

// Kept reports whether this node still has the shard's lease, valid or
// not: true from the claim until the lease is fenced or handed over, and so
// also while a late renewal is in flight (the lease's validity ran out
// first; Holds is false until the renewal lands, and no new owner may claim
// the shard before it expired on every clock). Work for the shard's objects
// that finds it kept but not held must wait, not be dropped: the shard is
// not loaded again if the renewal lands.
func (m *Manager) Kept(shard int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.held[shard] != nil
}

// Accepting reports whether this node holds the shard and takes new
// events for its objects (it is not handing the shard over).
func (m *Manager) Accepting(shard int) (uint64, bool) {
	m.mu.Lock()
	h := m.held[shard]
	releasing := h != nil && h.releasing
	m.mu.Unlock()
	if releasing {
		return 0, false
	}
	return m.Holds(shard)
}

// notifyLocked wakes the waiters of WaitOwner.
func (m *Manager) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// Owner returns the shard's owner as this node last saw it (a hint).
func (m *Manager) Owner(shard int) (Member, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ownerLocked(shard)
}

func (m *Manager) ownerLocked(shard int) (Member, bool) {
	o := m.view[shard]
	if o == nil || o.lease.Node == "" {
		return Member{}, false
	}
	if o.lease.Node == m.cfg.Node {
		h := m.held[shard]
		if h == nil || h.releasing || !time.Now().Before(h.validUntil) {
			return Member{}, false // moving away from here
		}
		return Member{Name: m.cfg.Node, Addr: m.cfg.Addr}, true
	}
	if m.staleLocked(o) {
		return Member{}, false // its lease expired, or this node's view lags
	}
	mv := m.nodes[o.lease.Node]
	if mv == nil {
		return Member{}, false
	}
	return mv.m, true
}

// staleLocked reports whether a lease of another node has not changed for
// longer than the lease: its holder stopped renewing it (it died or
// paused, and requests forwarded to it would wait out their deadlines), or
// this node's watch lags.
func (m *Manager) staleLocked(o *observed) bool {
	return o.lease.Node != "" && o.lease.Node != m.cfg.Node && time.Since(o.seen) >= m.cfg.Lease+m.margin
}

// refreshStale rereads shard s's key if this node's view of it is stale,
// at most once a sixth of the lease.
func (m *Manager) refreshStale(s int) {
	m.mu.Lock()
	o := m.view[s]
	due := o != nil && m.staleLocked(o) && time.Since(m.rereadAt[s]) >= m.cfg.Lease/6
	if due {
		m.rereadAt[s] = time.Now()
	}
	m.mu.Unlock()
	if due {
		m.reread(s)
	}
}

// WaitOwner returns the shard's owner, waiting while it has none (a
// failover or a move) until ctx ends.
func (m *Manager) WaitOwner(ctx context.Context, shard int) (Member, error) {
	for {
		m.mu.Lock()
		mem, ok := m.ownerLocked(shard)
		ch := m.changed
		m.mu.Unlock()
		if ok {
			return mem, nil
		}
		m.refreshStale(shard)
		select {
		case <-ch:
		case <-time.After(m.cfg.Lease / 6):
		case <-ctx.Done():
			return Member{}, fmt.Errorf("shard %d has no owner: %w", shard, ctx.Err())
		}
	}
}
