package shards

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/natsd"
	"github.com/roost-dev/roost/internal/natsd/natsdtest"
)

const testLease = time.Second

// node is one member: its embedded NATS server and its manager.
type node struct {
	srv *natsd.Server
	m   *Manager

	mu       sync.Mutex
	released map[int]int
}

// startNodes starts n embedded NATS servers routed together and a
// Manager on each.
func startNodes(t *testing.T, n int) []*node {
	t.Helper()
	return natsdtest.Start(t, n, func(i int, addr string, join []string) (*node, bool) {
		nd := startNode(t, i, addr, join)
		return nd, nd != nil
	})
}

func startNode(t *testing.T, i int, addr string, join []string) *node {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	srv, err := natsd.Start(ctx, natsd.Config{Name: fmt.Sprintf("n%d", i), Dir: t.TempDir(), Cluster: addr, Join: join, Logger: log})
	if err != nil {
		t.Error(err)
		return nil
	}
	nc, err := srv.Connect()
	if err != nil {
		t.Error(err)
		return nil
	}
	js, _ := jetstream.New(nc)
	nd := &node{srv: srv, released: map[int]int{}}
	nd.m, err = Start(ctx, Config{JS: js, Node: fmt.Sprintf("n%d", i), Addr: "127.0.0.1:1", Shards: 16, Replicas: 3,
		Lease: testLease, Logger: log, Release: nd.release})
	if err != nil {
		t.Error(err)
		return nil
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		nd.m.Close(cctx)
		nc.Close()
		srv.Close()
	})
	return nd
}

func (nd *node) release(_ context.Context, shard int, _ bool) {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	nd.released[shard]++
}

// holders samples every node's Holds for every shard and fails on a shard
// with two valid holders; it returns how many shards each node holds.
func holders(t *testing.T, nodes []*node) []int {
	t.Helper()
	per := make([]int, len(nodes))
	for s := range nodes[0].m.Count() {
		n := 0
		for i, nd := range nodes {
			if nd.m.closedForTest() {
				continue
			}
			if _, ok := nd.m.Holds(s); ok {
				n++
				per[i]++
			}
		}
		if n > 1 {
			t.Fatalf("shard %d has %d holders with valid leases at once", s, n)
		}
	}
	return per
}

// waitUntil polls cond for up to d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("not within %v: %s", d, what)
}

func TestShards_SpreadOverNodesWithOneHolderEach(t *testing.T) {
	nodes := startNodes(t, 3)
	waitUntil(t, 15*time.Second, "every node holds a share of the 16 shards", func() bool {
		per := holders(t, nodes)
		return per[0] > 0 && per[1] > 0 && per[2] > 0 && per[0]+per[1]+per[2] == 16
	})
}

func TestShards_FailedNodesShardsMoveAfterTheLease(t *testing.T) {
	nodes := startNodes(t, 3)
	waitUntil(t, 15*time.Second, "all 16 shards held", func() bool {
		per := holders(t, nodes)
		return per[0]+per[1]+per[2] == 16 && per[2] > 0
	})
	epochs := map[int]uint64{}
	for s := range 16 {
		if e, ok := nodes[2].m.Holds(s); ok {
			epochs[s] = e
		}
	}
	nodes[2].srv.Close() // node 2 loses its quorum: it cannot renew
	stopped := time.Now()
	waitUntil(t, testLease, "the cut-off node fences itself within its lease", func() bool {
		return holders(t, nodes)[2] == 0
	})
	waitUntil(t, 20*time.Second, "the others take its shards", func() bool {
		per := holders(t, nodes)
		return per[0]+per[1] == 16
	})
	t.Logf("the shards moved %v after the node lost its server", time.Since(stopped).Round(time.Millisecond))
	for s, old := range epochs {
		for _, nd := range nodes[:2] {
			if e, ok := nd.m.Holds(s); ok && e <= old {
				t.Errorf("shard %d: epoch %d after %d", s, e, old)
			}
		}
	}
}

// A renewal that lands after the lease's validity ran out (its stream was
// electing a leader meanwhile) leaves a window in which the node holds no
// valid lease yet has not lost the shard: no one else may claim it, and once
// the renewal lands the shard is not taken over again (the node does not
// load its wakes again). Kept tells that window apart from a lost shard.
func TestShards_ALateRenewalKeepsTheShard(t *testing.T) {
	nodes := startNodes(t, 3)
	m := nodes[0].m
	held := func() (int, bool) {
		for s := range m.Count() {
			if _, ok := m.Holds(s); ok {
				return s, true
			}
		}
		return 0, false
	}
	waitUntil(t, 15*time.Second, "node 0 holds a shard", func() bool { _, ok := held(); return ok })
	// The keep loop fences a lease it finds expired: if it ran between the
	// lapse and the renewal made here, start again.
	for try := 1; ; try++ {
		s, ok := held()
		if !ok {
			waitUntil(t, 15*time.Second, "node 0 holds a shard again", func() bool { _, ok := held(); return ok })
			continue
		}
		m.mu.Lock()
		h := m.held[s]
		h.validUntil = time.Now() // the renewal in flight is late
		late := *h
		m.mu.Unlock()
		_, holds := m.Holds(s)
		_, accepting := m.Accepting(s)
		kept := m.Kept(s)
		m.renewOne(s, late, time.Now()) // it lands
		if !m.Kept(s) && try < 5 {
			continue // fenced meanwhile
		}
		if holds || accepting || !kept {
			t.Fatalf("lapsed lease in flight: Holds=%v Accepting=%v Kept=%v, want false, false, true", holds, accepting, kept)
		}
		if e, ok := m.Holds(s); !ok || e != late.epoch {
			t.Fatalf("after the late renewal: Holds=(%d, %v), want (%d, true)", e, ok, late.epoch)
		}
		return
	}
}

func TestShards_DrainMovesEveryShardGracefully(t *testing.T) {
	nodes := startNodes(t, 3)
	waitUntil(t, 15*time.Second, "node 1 holds shards", func() bool { return holders(t, nodes)[1] > 0 })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := nodes[0].m.Drain(ctx, "n9"); errcode.Of(err) != errcode.NotFound {
		t.Fatalf("drain of a node that is no member: %v, want not_found", err)
	}
	if err := nodes[0].m.Drain(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the others hold every shard", func() bool {
		per := holders(t, nodes)
		return per[1] == 0 && per[0]+per[2] == 16
	})
	nodes[1].mu.Lock()
	defer nodes[1].mu.Unlock()
	if len(nodes[1].released) == 0 {
		t.Fatal("the drained node handed its shards over without Release")
	}
}

// closedForTest reports whether Close ran.
func (m *Manager) closedForTest() bool { return m.ctx.Err() != nil }
