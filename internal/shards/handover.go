package shards

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/errcode"
)

// handOver hands over up to max held shards that another live member
// prefers (all of them when this node is draining): their objects leave
// this node first (Release), then the key is marked free, which the
// preferred node claims at once.
func (m *Manager) handOver(ctx context.Context, max int) {
	for _, s := range m.toHandOver(max) {
		m.release(ctx, s)
	}
}

func (m *Manager) toHandOver(max int) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	live := m.liveLocked()
	var out []int
	for s, h := range m.held {
		if len(out) == max {
			break
		}
		p := preferred(s, live)
		if h.releasing || p == m.cfg.Node || (p == "" && !m.draining) {
			continue
		}
		h.releasing = true
		out = append(out, s)
	}
	return out
}

// release hands shard s over: Release, then the key marked free with a
// compare-and-set (a failure means the lease was lost meanwhile).
// Renewals go on during Release, which needs the lease to publish the
// shard's last commits, and stop for the final write.
func (m *Manager) release(ctx context.Context, s int) {
	if m.cfg.Release != nil {
		m.cfg.Release(ctx, s, false)
	}
	m.mu.Lock()
	h := m.held[s]
	if h != nil {
		h.final = true
	}
	m.mu.Unlock()
	if h == nil {
		return
	}
	free := lease{Epoch: h.epoch}
	rev, err := m.putFree(s, free)
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.held, s)
	if err == nil {
		m.seenLocked(s, free, rev)
		m.cfg.Logger.Info("shard handed over", "shard", s, "epoch", h.epoch)
	}
	m.notifyLocked()
}

// putFree marks held shard s free. A renewal that started before the
// hand-over's final write moves the revision: the write then tries again
// with the renewal's, a few times.
func (m *Manager) putFree(s int, free lease) (uint64, error) {
	tried := uint64(0)
	for range 4 {
		m.mu.Lock()
		h := m.held[s]
		var rev uint64
		if h != nil {
			rev = h.rev
		}
		m.mu.Unlock()
		if h == nil {
			return 0, fmt.Errorf("shards: hand shard %d over: its lease expired", s)
		}
		if rev == tried {
			clock.Sleep(m.ctx, m.cfg.Lease/24) // a renewal in flight lands meanwhile
			continue
		}
		newRev, err := m.put(s, free, rev)
		if !lostRace(err) {
			return newRev, err
		}
		tried = rev
	}
	return 0, fmt.Errorf("shards: hand shard %d over: the lease moved", s)
}

// Drain marks node as draining: every node stops preferring it, and it
// hands its shards over. It returns once node holds no shard, or ctx ends.
// A node that is not a member fails with not_found, and draining the last
// live member with conflict (its shards would have nowhere to go).
func (m *Manager) Drain(ctx context.Context, node string) error {
	if err := m.canDrain(node); err != nil {
		return err
	}
	if _, err := m.members.Put(ctx, "drain."+node, []byte("1")); err != nil {
		return fmt.Errorf("shards: mark %s draining: %w", node, err)
	}
	for {
		if n := m.countOf(node); n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("shards: %s still holds %d shards: %w", node, m.countOf(node), ctx.Err())
		case <-time.After(m.cfg.Lease / 6):
		}
	}
}

// canDrain checks that node is a member and that another live member can
// take its shards.
func (m *Manager) canDrain(node string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nodes[node] == nil && node != m.cfg.Node {
		names := make([]string, 0, len(m.nodes))
		for name := range m.nodes {
			names = append(names, name)
		}
		sort.Strings(names)
		return errcode.New(errcode.NotFound, "no node %q in the cluster (its members: %s); see `roost cluster status`", node, strings.Join(names, ", "))
	}
	for _, n := range m.liveLocked() {
		if n != node {
			return nil
		}
	}
	return errcode.New(errcode.Conflict, "%s is the last live node: its shards would have nowhere to go; start another node first", node)
}

// countOf returns how many shards node holds in this node's view.
func (m *Manager) countOf(node string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, o := range m.view {
		if o.lease.Node == node {
			n++
		}
	}
	return n
}

// Close hands every held shard over (bounded by ctx), leaves the members
// and stops the manager's goroutines.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.draining = true
	m.mu.Unlock()
	_ = m.heartbeat(ctx)
	var err error
	for {
		m.handOver(ctx, m.count)
		m.mu.Lock()
		left := len(m.held)
		m.mu.Unlock()
		if left == 0 {
			break
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("shards: %d shards not handed over: %w", left, ctx.Err())
			break
		}
		clock.Sleep(ctx, m.cfg.Lease/12)
	}
	dctx, cancel := context.WithTimeout(context.Background(), m.cfg.Lease/3)
	defer cancel()
	if derr := m.members.Delete(dctx, m.cfg.Node); derr != nil {
		// The last node of a cluster stopped one by one has no quorum left
		// to delete its member key with; the key's heartbeat goes stale
		// anyway, so a failed leave is no failed shutdown.
		m.cfg.Logger.Warn("leave the members: the others see this node's heartbeat stop instead", "err", derr)
	}
	m.cancel()
	m.wg.Wait()
	return err
}

// Status is the placement as this node sees it.
type Status struct {
	Node    string         `json:"node"`
	Shards  int            `json:"shards"`
	Lease   string         `json:"lease"`
	Members []MemberStatus `json:"members"`
	Leases  []LeaseStatus  `json:"leases"`
}

// MemberStatus is a member and the shards it holds.
type MemberStatus struct {
	Member
	Live   bool `json:"live"`
	Shards int  `json:"shards"`
}

// LeaseStatus is one shard's lease.
type LeaseStatus struct {
	Shard int    `json:"shard"`
	Node  string `json:"node"`
	Epoch uint64 `json:"epoch"`
	// Age is how long ago this node saw the lease change (a renewal or a
	// claim): more than the lease period means its owner is gone.
	Age string `json:"age"`
}

// Status reports the members, shards per member and every lease.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Status{Node: m.cfg.Node, Shards: m.count, Lease: m.cfg.Lease.String()}
	per := map[string]int{}
	for s, o := range m.view {
		per[o.lease.Node]++
		st.Leases = append(st.Leases, LeaseStatus{Shard: s, Node: o.lease.Node, Epoch: o.lease.Epoch,
			Age: time.Since(o.seen).Round(time.Millisecond).String()})
	}
	sort.Slice(st.Leases, func(i, j int) bool { return st.Leases[i].Shard < st.Leases[j].Shard })
	live := map[string]bool{}
	for _, n := range m.liveLocked() {
		live[n] = true
	}
	for name, mv := range m.nodes {
		mem := mv.m
		mem.Draining = mem.Draining || m.drains[name]
		st.Members = append(st.Members, MemberStatus{Member: mem, Live: live[name], Shards: per[name]})
	}
	sort.Slice(st.Members, func(i, j int) bool { return st.Members[i].Name < st.Members[j].Name })
	return st
}
