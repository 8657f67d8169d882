package shards

import (
	"context"
	"encoding/json"
	"errors"
	"hash"
	"hash/fnv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func newHash() hash.Hash64 { return fnv.New64a() }

// loop claims and hands over shards every sixth of the lease; renewals
// have a loop of their own (keep), which nothing here can hold up.
func (m *Manager) loop() {
	t := time.NewTicker(m.cfg.Lease / 6)
	defer t.Stop()
	beat := time.Now()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(beat) >= m.cfg.Lease/3 {
			if m.heartbeat(m.ctx) == nil {
				beat = time.Now()
			}
		}
		m.claim()
		m.handOver(m.ctx, 4)
	}
}

// keep renews the held leases and fences the expired ones, every twelfth
// of the lease. It runs apart from claims and hand-overs: while the
// leases' stream elects a new leader (its old one died), those wait out
// their timeouts, and renewals, retried at this pace, must land as soon
// as the new leader serves, or every node loses its shards with the dead
// one's.
func (m *Manager) keep() {
	t := time.NewTicker(m.cfg.Lease / 12)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		m.renew()
		m.expire()
	}
}

// heartbeat writes this node's member key.
func (m *Manager) heartbeat(ctx context.Context) error {
	m.mu.Lock()
	mem := Member{Name: m.cfg.Node, Addr: m.cfg.Addr, Draining: m.draining}
	m.mu.Unlock()
	b, _ := json.Marshal(mem)
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Lease/3)
	defer cancel()
	rev, err := m.members.Put(ctx, m.cfg.Node, b)
	if err == nil {
		m.stalled(rev)
	}
	return err
}

// lostRace reports whether a compare-and-set failed because the key moved
// on: a create finding the key (ErrKeyExists), an update finding another
// revision (ErrKeyRevisionMismatch: replicated buckets report it with
// another code than ErrKeyExists matches).
func lostRace(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// put writes a shard's lease with a compare-and-set on rev (0: create).
func (m *Manager) put(s int, l lease, rev uint64) (uint64, error) {
	b, _ := json.Marshal(l)
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.Lease/3)
	defer cancel()
	if rev == 0 {
		return m.leases.Create(ctx, shardKey(s), b)
	}
	return m.leases.Update(ctx, shardKey(s), b, rev)
}

// renewers bounds the lease renewals in flight at once.
const renewers = 16

// renew renews every held lease that is due, several at once: one at a
// time, a node holding most shards of a busy cluster (each renewal a
// replicated write) could not renew them all within the lease. A
// renewal's validity counts from its start.
func (m *Manager) renew() {
	m.mu.Lock()
	held := make(map[int]holding, len(m.held))
	for s, h := range m.held {
		held[s] = *h
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, renewers)
	for s, h := range held {
		start := time.Now()
		if !start.Before(h.validUntil) {
			continue // expired: expire fences it
		}
		if h.final || h.validUntil.Sub(start) > m.cfg.Lease*2/3-m.margin {
			continue // being handed over, or renewed less than a third of the period ago
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			m.renewOne(s, h, start)
		})
	}
	wg.Wait()
}

// renewOne renews shard s's lease h, started at start.
func (m *Manager) renewOne(s int, h holding, start time.Time) {
	rev, err := m.put(s, lease{Node: m.cfg.Node, Epoch: h.epoch}, h.rev)
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.held[s]; cur != nil && cur.epoch == h.epoch {
		switch {
		case err == nil:
			cur.rev, cur.validUntil = rev, start.Add(m.cfg.Lease-m.margin)
			m.seenLocked(s, lease{Node: m.cfg.Node, Epoch: h.epoch}, rev)
		case lostRace(err) && !cur.final: // a hand-over's write moves it too
			delete(m.held, s) // the revision moved: another node took it
			m.fence(s, "lost the compare-and-set")
		}
	}
}

// seenLocked records this node's own write in its view.
func (m *Manager) seenLocked(s int, l lease, rev uint64) {
	if o := m.view[s]; o == nil || o.rev < rev {
		m.view[s] = &observed{lease: l, rev: rev, seen: time.Now()}
		m.notifyLocked()
	}
}

// expire drops the leases whose validity ended: the node could not renew
// them in time (no quorum, or it was paused).
func (m *Manager) expire() {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for s, h := range m.held {
		if !now.Before(h.validUntil) {
			delete(m.held, s)
			m.lapsed[s] = h.rev
			m.fence(s, "lease expired before a renewal succeeded")
		}
	}
}

// fence tells the node it lost a shard. Caller holds mu.
func (m *Manager) fence(s int, why string) {
	m.cfg.Logger.Warn("shard lease lost: fenced", "shard", s, "why", why)
	m.notifyLocked()
	if m.cfg.Release != nil {
		m.wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), m.cfg.Lease)
			defer cancel()
			m.cfg.Release(ctx, s, true)
		})
	}
}

// claim takes the free or expired shards this node may take. It stops at
// the first write that fails for another reason than a lost race: the
// leases' stream is unavailable, and each further try would wait out its
// timeout.
func (m *Manager) claim() {
	for s := range m.count {
		l, rev, ok := m.claimable(s)
		if !ok {
			continue
		}
		start := time.Now()
		next := lease{Node: m.cfg.Node, Epoch: l.Epoch + 1}
		newRev, err := m.put(s, next, rev)
		if lostRace(err) {
			m.reread(s) // someone else was faster, or this node's view is stale
			continue
		}
		if err != nil {
			return // no quorum, or no leader yet: try again at the next tick
		}
		m.mu.Lock()
		m.held[s] = &holding{epoch: next.Epoch, rev: newRev, validUntil: start.Add(m.cfg.Lease - m.margin)}
		delete(m.lapsed, s)
		m.seenLocked(s, next, newRev)
		m.mu.Unlock()
		m.cfg.Logger.Info("shard taken", "shard", s, "epoch", next.Epoch, "from", l.Node)
		if m.cfg.Acquired != nil {
			m.cfg.Acquired(s, l.Node)
		}
	}
}

// reread reads shard s's key after a lost race: this node's view of it
// may be stale (its watch lags while a stream elects a leader), and would
// have it try the same write at every tick.
func (m *Manager) reread(s int) {
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.Lease/3)
	defer cancel()
	e, err := m.leases.Get(ctx, shardKey(s))
	if err != nil {
		return // deleted, or unavailable: the watch tells
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.applyLeaseLocked(e)
}

// claimable reports whether this node should claim shard s now, with the
// lease it replaces and its revision (0: the key does not exist).
func (m *Manager) claimable(s int) (lease, uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held[s] != nil || m.draining || m.drains[m.cfg.Node] {
		return lease{}, 0, false
	}
	o := m.view[s]
	var l lease
	var rev uint64
	idle := time.Since(m.started)
	if o != nil {
		l, rev, idle = o.lease, o.rev, time.Since(o.seen)
	}
	// A lease of this node's that lapsed (no renewal landed in time, the
	// stream electing a leader) may be claimed again at once: the
	// compare-and-set on its last revision fails if any node wrote since.
	lapsed := o != nil && l.Node == m.cfg.Node && m.lapsed[s] == o.rev
	expired := l.Node == "" || lapsed || idle >= m.cfg.Lease+m.margin
	if l.Node != "" && l.Node != m.cfg.Node && !expired {
		return l, rev, false
	}
	if l.Node == m.cfg.Node && !expired {
		return l, rev, false // ours from a previous run: wait until it expired
	}
	mine := preferred(s, m.liveLocked()) == m.cfg.Node
	return l, rev, mine || idle >= 2*m.cfg.Lease+m.margin
}
