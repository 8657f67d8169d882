package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/roost-dev/roost/internal/cluster"
	"github.com/roost-dev/roost/internal/shards"
)

func TestClusterStatus_MarksStreamsThatNeedAttention(t *testing.T) {
	t.Parallel()
	current := cluster.ReplicaStatus{Name: "n2", Current: true, Active: "10ms"}
	tests := []struct {
		name   string
		stream cluster.StreamStatus
		want   []string
	}{
		{"healthy", cluster.StreamStatus{Name: "S", Replicas: 3, Leader: "n1", Healthy: true,
			Followers: []cluster.ReplicaStatus{current, {Name: "n3", Current: true}}}, []string{"n2 current, n3 current", "1.0 KiB", " ok\n"}},
		{"follower behind", cluster.StreamStatus{Name: "S", Replicas: 3, Leader: "n1",
			Followers: []cluster.ReplicaStatus{current, {Name: "n3", Lag: 12}}}, []string{"n2 current, n3 BEHIND 12", "DEGRADED"}},
		{"follower offline", cluster.StreamStatus{Name: "S", Replicas: 3, Leader: "n1",
			Followers: []cluster.ReplicaStatus{current, {Name: "n3", Offline: true, Active: "40s"}}}, []string{"n3 OFFLINE (seen 40s ago)", "DEGRADED"}},
		{"leader alone", cluster.StreamStatus{Name: "S", Replicas: 3, Leader: "n1",
			Followers: []cluster.ReplicaStatus{{Name: "n2", Offline: true}, {Name: "n3", Offline: true}}}, []string{"NO QUORUM: writes fail"}},
		{"no leader", cluster.StreamStatus{Name: "S", Replicas: 3}, []string{" NONE ", "NO LEADER"}},
		{"unavailable", cluster.StreamStatus{Name: "S", Error: "unavailable: context deadline exceeded"},
			[]string{"UNAVAILABLE: unavailable: context deadline exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.stream.Error == "" {
				tt.stream.Messages, tt.stream.Bytes = 4, 1024
			}
			st := &cluster.Status{Status: shards.Status{Node: "n1", Shards: 2, Lease: "3s",
				Members: []shards.MemberStatus{{Member: shards.Member{Name: "n1"}, Live: true, Shards: 2}},
				Leases:  []shards.LeaseStatus{{Shard: 0, Node: "n1", Age: "1s"}, {Shard: 1, Node: "n1", Age: "9s"}}},
				Streams: []cluster.StreamStatus{tt.stream}}
			var out bytes.Buffer
			printClusterStatus(&out, st, false)
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output has no %q:\n%s", w, out.String())
				}
			}
			if !strings.Contains(out.String(), "leases: 2 of 2 shards owned by live nodes; 1 NOT RENEWED for more than 3s") {
				t.Errorf("output's leases summary:\n%s", out.String())
			}
		})
	}
}
