package shards

import (
	"context"
	"encoding/json"
	"hash"
	"hash/fnv"
	"time"
)

func newHash() hash.Hash64 { return fnv.New64a() }

// loop renews the node's lease, claims and hands over shards every sixth
// of the lease.
func (m *Manager) loop() {
	t := time.NewTicker(m.cfg.Lease / 6)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		if m.renewDue() {
			_ = m.heartbeat(m.ctx)
		}
		m.expire()
		m.claim()
		m.handOver(m.ctx, 4)
	}
}

// renewDue reports whether the node's lease was last renewed a third of
// the period ago or more.
func (m *Manager) renewDue() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return time.Until(m.validUntil) <= m.cfg.Lease*2/3-m.margin
}

// heartbeat writes this node's member key: the node's lease, which every
// shard it holds shares. A success makes the lease valid until its start
// plus the period minus the margin.
func (m *Manager) heartbeat(ctx context.Context) error {
	m.mu.Lock()
	mem := Member{Name: m.cfg.Node, Addr: m.cfg.Addr, Draining: m.draining}
	m.mu.Unlock()
	b, _ := json.Marshal(mem)
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Lease/3)
	defer cancel()
	start := time.Now()
	if _, err := m.members.Put(ctx, m.cfg.Node, b); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.held) > 0 && !start.Before(m.validUntil) {
		// The lease lapsed before this renewal: expire fences the shards;
		// a late renewal must not bring them back.
		return nil
	}
	m.validUntil = start.Add(m.cfg.Lease - m.margin)
	return nil
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

// seenLocked records this node's own write in its view.
func (m *Manager) seenLocked(s int, l lease, rev uint64) {
	if o := m.view[s]; o == nil || o.rev < rev {
		m.view[s] = &observed{lease: l, rev: rev, seen: time.Now()}
		m.notifyLocked()
	}
}

// expire drops every held shard once the node's lease lapsed: it could not
// renew in time (no quorum, or it was paused). It claims them again, with
// new epochs, only if no other node took them meanwhile.
func (m *Manager) expire() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.held) == 0 || time.Now().Before(m.validUntil) {
		return
	}
	for s := range m.held {
		delete(m.held, s)
		m.fence(s, "the node's lease expired before a renewal succeeded")
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

// claim takes the free or expired shards this node may take.
func (m *Manager) claim() {
	for s := range m.count {
		l, rev, ok := m.claimable(s)
		if !ok {
			continue
		}
		next := lease{Node: m.cfg.Node, Epoch: l.Epoch + 1}
		newRev, err := m.put(s, next, rev)
		if err != nil {
			continue // someone else was faster, or no quorum: try again later
		}
		m.mu.Lock()
		m.held[s] = &holding{epoch: next.Epoch, rev: newRev}
		m.seenLocked(s, next, newRev)
		m.mu.Unlock()
		m.cfg.Logger.Info("shard taken", "shard", s, "epoch", next.Epoch, "from", l.Node)
		if m.cfg.Acquired != nil {
			m.cfg.Acquired(s, l.Node)
		}
	}
}

// claimable reports whether this node should claim shard s now, with the
// lease it replaces and its revision (0: the key does not exist). A shard
// is free, or its owner's lease (its member key) has not changed for the
// period plus the margin, as this node saw it.
func (m *Manager) claimable(s int) (lease, uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if m.held[s] != nil || m.draining || m.drains[m.cfg.Node] || !now.Before(m.validUntil) {
		return lease{}, 0, false
	}
	o := m.view[s]
	var l lease
	var rev uint64
	idle := now.Sub(m.started)
	if o != nil {
		l, rev, idle = o.lease, o.rev, now.Sub(o.seen)
	}
	switch {
	case l.Node == m.cfg.Node:
		// Ours from before a lapse or a restart: the compare-and-set fails
		// if another node took it since.
	case l.Node != "" && !m.expiredLocked(l.Node, idle, now):
		return l, rev, false
	}
	mine := preferred(s, m.liveLocked()) == m.cfg.Node
	return l, rev, mine || idle >= 2*m.cfg.Lease+m.margin
}

// expiredLocked reports whether node's lease is over as this node saw it:
// its member key unchanged (or gone) for the period plus the margin. idle
// is how long the shard's own key has been unchanged, which counts when
// the member key was never seen.
func (m *Manager) expiredLocked(node string, idle time.Duration, now time.Time) bool {
	if mv := m.nodes[node]; mv != nil {
		return now.Sub(mv.seen) >= m.cfg.Lease+m.margin
	}
	gone, ok := m.gone[node]
	if !ok {
		return idle >= m.cfg.Lease+m.margin
	}
	return now.Sub(gone) >= m.cfg.Lease+m.margin
}
