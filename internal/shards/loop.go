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

// loop renews, claims and hands over shards every sixth of the lease.
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
		m.renew()
		m.expire()
		m.claim()
		m.handOver(m.ctx, 4)
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
		if h.validUntil.Sub(start) > m.cfg.Lease*2/3-m.margin {
			continue // renewed less than a third of the period ago
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
		case errors.Is(err, jetstream.ErrKeyExists):
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

// claim takes the free or expired shards this node may take.
func (m *Manager) claim() {
	for s := range m.count {
		l, rev, ok := m.claimable(s)
		if !ok {
			continue
		}
		start := time.Now()
		next := lease{Node: m.cfg.Node, Epoch: l.Epoch + 1}
		newRev, err := m.put(s, next, rev)
		if err != nil {
			continue // someone else was faster, or no quorum: try again later
		}
		m.mu.Lock()
		m.held[s] = &holding{epoch: next.Epoch, rev: newRev, validUntil: start.Add(m.cfg.Lease - m.margin)}
		m.seenLocked(s, next, newRev)
		m.mu.Unlock()
		m.cfg.Logger.Info("shard taken", "shard", s, "epoch", next.Epoch, "from", l.Node)
		if m.cfg.Acquired != nil {
			m.cfg.Acquired(s, l.Node)
		}
	}
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
	expired := l.Node == "" || idle >= m.cfg.Lease+m.margin
	if l.Node != "" && l.Node != m.cfg.Node && !expired {
		return l, rev, false
	}
	if l.Node == m.cfg.Node && !expired {
		return l, rev, false // ours from a previous run: wait until it expired
	}
	mine := preferred(s, m.liveLocked()) == m.cfg.Node
	return l, rev, mine || idle >= 2*m.cfg.Lease+m.margin
}
