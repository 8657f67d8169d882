package shards

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roost-dev/roost/internal/clock"
)

// watch starts the watches of both buckets and returns once their initial
// values are in (or ctx ends).
func (m *Manager) watch(ctx context.Context) error {
	for _, kv := range []jetstream.KeyValue{m.leases, m.members} {
		w, err := kv.WatchAll(m.ctx)
		if err != nil {
			return fmt.Errorf("shards: watch: %w", err)
		}
		synced := make(chan struct{})
		m.wg.Go(func() { m.follow(kv, w, kv == m.leases, synced) })
		select {
		case <-synced:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// follow applies a watch's updates until the manager stops, and replaces
// the watch when the heartbeat finds it stalled (see stalled).
//
// Why: a watch is an ordered consumer that lives on one server. When that
// server dies (or is paused), nats.go notices only after missed idle
// heartbeats, over 10 s, and until then this node sees no renewal and no
// claim, so it forwards requests to a dead owner. A new watch delivers
// every key's latest value again; entries already seen are ignored by
// revision.
func (m *Manager) follow(kv jetstream.KeyValue, w jetstream.KeyWatcher, leases bool, synced chan struct{}) {
	once := sync.OnceFunc(func() { close(synced) })
	for {
		m.consume(w, leases, once)
		w.Stop()
		if m.ctx.Err() != nil {
			return
		}
		for {
			var err error
			if w, err = kv.WatchAll(m.ctx); err == nil {
				break
			}
			if !clock.Sleep(m.ctx, 100*time.Millisecond) {
				return
			}
		}
	}
}

// consume applies a watch's entries until it ends, the manager stops, or
// the heartbeat asks for a new watch.
func (m *Manager) consume(w jetstream.KeyWatcher, leases bool, synced func()) {
	rewatch := m.rewatch[0]
	if leases {
		rewatch = m.rewatch[1]
	}
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				synced()
				continue
			}
			m.mu.Lock()
			if leases {
				m.applyLeaseLocked(e)
			} else {
				m.applyMemberLocked(e)
			}
			m.notifyLocked()
			m.mu.Unlock()
		case <-rewatch:
			return
		case <-m.ctx.Done():
			return
		}
	}
}

// stalled checks, at a heartbeat that wrote revision rev, whether the
// members watch delivered the previous heartbeat; if not, both watches are
// replaced.
func (m *Manager) stalled(rev uint64) {
	m.mu.Lock()
	stuck := m.probe != 0 && m.watched < m.probe
	m.probe = rev
	m.mu.Unlock()
	if !stuck {
		return
	}
	m.cfg.Logger.Info("the placement watch stalled: replacing it")
	for _, ch := range m.rewatch {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (m *Manager) applyLeaseLocked(e jetstream.KeyValueEntry) {
	n, ok := strings.CutPrefix(e.Key(), "s.")
	s, err := strconv.Atoi(n)
	if !ok || err != nil {
		return
	}
	var l lease
	if e.Operation() == jetstream.KeyValuePut {
		_ = json.Unmarshal(e.Value(), &l)
	}
	o := m.view[s]
	if o != nil && o.rev >= e.Revision() {
		return // our own write, applied already
	}
	m.view[s] = &observed{lease: l, rev: e.Revision(), seen: time.Now()}
	if h := m.held[s]; h != nil && h.releasing && l.Node == "" && l.Epoch == h.epoch {
		return // our own hand-over, seen before release recorded it: no fence
	}
	if h := m.held[s]; h != nil && l.Node != m.cfg.Node {
		// Another node took it: our lease was over (it waited the period).
		delete(m.held, s)
		m.fence(s, "taken by "+l.Node)
	}
}

func (m *Manager) applyMemberLocked(e jetstream.KeyValueEntry) {
	key := e.Key()
	if node, ok := strings.CutPrefix(key, "drain."); ok {
		m.drains[node] = e.Operation() == jetstream.KeyValuePut
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(m.nodes, key)
		return
	}
	m.watched = max(m.watched, e.Revision())
	if mv := m.nodes[key]; mv != nil && e.Revision() <= mv.rev {
		return // a replaced watch delivers the latest value again: not a new heartbeat
	}
	var mem Member
	if json.Unmarshal(e.Value(), &mem) != nil {
		return
	}
	m.nodes[key] = &memberView{m: mem, rev: e.Revision(), seen: time.Now()}
}

// liveLocked returns the members that may own shards: heartbeating within
// the lease, not draining. This node counts unless it is draining.
func (m *Manager) liveLocked() []string {
	var live []string
	now := time.Now()
	for name, mv := range m.nodes {
		if name == m.cfg.Node {
			continue
		}
		if now.Sub(mv.seen) < m.cfg.Lease+m.margin && !mv.m.Draining && !m.drains[name] {
			live = append(live, name)
		}
	}
	if !m.draining && !m.drains[m.cfg.Node] {
		live = append(live, m.cfg.Node)
	}
	return live
}

// preferred returns the live member with the highest rendezvous hash for
// the shard ("" if none).
func preferred(shard int, live []string) string {
	best, bestScore := "", uint64(0)
	for _, name := range live {
		if s := score(name, shard); best == "" || s > bestScore || (s == bestScore && name < best) {
			best, bestScore = name, s
		}
	}
	return best
}

// score is the rendezvous weight of a member for a shard. FNV-1a alone
// is not enough: names that differ in one byte ("n1", "n3") keep their
// order for almost every shard, so one member was preferred for nearly all
// shards and another for none. A 64-bit finalizer (MurmurHash3's fmix64)
// spreads them.
func score(name string, shard int) uint64 {
	h := newHash()
	h.Write([]byte(name))
	h.Write([]byte{'/'})
	h.Write([]byte(strconv.Itoa(shard)))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	return x ^ x>>33
}
