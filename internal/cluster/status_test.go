package cluster

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/natsd/natsdtest"
)

// startNodes starts n cluster members in this process, each with its
// embedded NATS server routed to the others; each is closed at cleanup
// (Close is idempotent).
func startNodes(t *testing.T, n int) []*Cluster {
	t.Helper()
	return natsdtest.Start(t, n, func(i int, addr string, join []string) (*Cluster, bool) {
		nd := startNode(t, i, addr, join)
		return nd, nd != nil
	})
}

func startNode(t *testing.T, i int, addr string, join []string) *Cluster {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Start(ctx, Config{Node: "n" + string(rune('1'+i)), Listen: addr, Join: join, Advertise: "127.0.0.1:1",
		Shards: 8, Lease: time.Second, Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Error(err)
		return nil
	}
	t.Cleanup(func() { closeNode(c) })
	return c
}

func closeNode(c *Cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.Close(ctx)
}

func TestStatus_ReportsEveryStreamWithItsLeaderAndFollowers(t *testing.T) {
	nodes := startNodes(t, 3)
	var st Status
	for range 100 { // the streams' followers catch up within moments of creation
		if st = nodes[0].Status(t.Context()); healthy(st) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(st.Streams) != len(Streams) {
		t.Fatalf("%d streams, want %d: %+v", len(st.Streams), len(Streams), st.Streams)
	}
	for i, s := range st.Streams {
		if s.Name != Streams[i] || s.Error != "" || !s.Healthy || s.Replicas != 3 || s.Leader == "" || len(s.Followers) != 2 {
			t.Errorf("stream %d: %+v, want %s healthy with a leader and 2 followers", i, s, Streams[i])
		}
		for _, f := range s.Followers {
			if f.Name == s.Leader || f.Offline || !f.Current {
				t.Errorf("%s: follower %+v", s.Name, f)
			}
		}
	}
	if st.Streams[2].Messages == 0 { // the members bucket holds each member's heartbeat
		t.Errorf("%s holds no message: %+v", st.Streams[2].Name, st.Streams[2])
	}
}

func healthy(st Status) bool {
	for _, s := range st.Streams {
		if !s.Healthy {
			return false
		}
	}
	return true
}

// A node left alone (no quorum) still answers Status within
// StatusTimeout, with every stream shown unhealthy, rather than hanging.
func TestStatus_NodeWithoutQuorumAnswersPromptly(t *testing.T) {
	nodes := startNodes(t, 3)
	closeNode(nodes[1])
	closeNode(nodes[2])
	var st Status
	for range 60 { // until the survivor notices its peers are gone
		start := time.Now()
		st = nodes[0].Status(t.Context())
		if d := time.Since(start); d > StatusTimeout+3*time.Second {
			t.Fatalf("Status took %v without a quorum, want at most about %v", d, StatusTimeout)
		}
		if unhealthy(st) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !unhealthy(st) {
		t.Fatalf("streams without a quorum: %+v, want every one unhealthy", st.Streams)
	}
	t.Logf("without a quorum: %+v", st.Streams)
}

func unhealthy(st Status) bool {
	for _, s := range st.Streams {
		if s.Healthy {
			return false
		}
	}
	return true
}
