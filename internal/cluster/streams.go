package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roost-dev/roost/internal/objlog"
	"github.com/roost-dev/roost/internal/shards"
)

// StatusTimeout bounds the stream part of [Cluster.Status]: a node without
// a quorum (no stream leader answers) still reports within it, with its
// streams marked unavailable.
const StatusTimeout = 2 * time.Second

// Streams are the JetStream streams Roost keeps, in the order Status
// reports them: the objects' log, the shard leases, the members, the wake
// index (KV buckets are the streams KV_<bucket>) and the snapshots (the
// object store's stream OBJ_<bucket>).
var Streams = []string{objlog.StreamName, "KV_" + shards.LeasesBucket, "KV_" + shards.MembersBucket,
	"KV_" + WakesBucket, "OBJ_" + objlog.SnapshotBucket}

// Status is the cluster as one node sees it: the placement (members,
// shards per member, leases) and the health of the streams.
type Status struct {
	shards.Status
	Streams []StreamStatus `json:"streams"`
}

// StreamStatus is the health of one stream, as its leader reports it.
type StreamStatus struct {
	Name string `json:"name"`
	// Replicas is the configured number of replicas.
	Replicas int `json:"replicas"`
	// Leader is the node whose server leads the stream; "" when it has no
	// leader (no quorum: nothing can be written) or Error is set.
	Leader string `json:"leader"`
	// Followers are the other replicas, as the leader sees them.
	Followers []ReplicaStatus `json:"followers"`
	Messages  uint64          `json:"messages"`
	Bytes     uint64          `json:"bytes"`
	// Healthy is true when the stream has a leader and every follower is
	// current and online.
	Healthy bool `json:"healthy"`
	// Error says why the stream's state could not be read (no leader
	// answered within StatusTimeout, for one); the other fields are then
	// zero.
	Error string `json:"error,omitempty"`
}

// ReplicaStatus is one follower of a stream.
type ReplicaStatus struct {
	Name    string `json:"name"`
	Current bool   `json:"current"`
	Offline bool   `json:"offline"`
	// Lag is how many operations the replica is behind the leader.
	Lag uint64 `json:"lag"`
	// Active is how long ago the leader last heard from the replica.
	Active string `json:"active"`
}

// Status reports the placement as this node sees it and the streams'
// health. The stream part is bounded by StatusTimeout (and ctx): a stream
// whose leader does not answer in time is reported with its Error.
func (c *Cluster) Status(ctx context.Context) Status {
	ctx, cancel := context.WithTimeout(ctx, StatusTimeout)
	defer cancel()
	st := Status{Status: c.shards.Status(), Streams: make([]StreamStatus, len(Streams))}
	var wg sync.WaitGroup
	for i, name := range Streams {
		wg.Go(func() { st.Streams[i] = streamStatus(ctx, c.js, name) })
	}
	wg.Wait()
	return st
}

// streamStatus asks the stream's leader for its state.
func streamStatus(ctx context.Context, js jetstream.JetStream, name string) StreamStatus {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return StreamStatus{Name: name, Error: fmt.Sprintf("unavailable: %v", err)}
	}
	return fromInfo(s.CachedInfo())
}

// fromInfo turns JetStream's stream info into a StreamStatus.
func fromInfo(info *jetstream.StreamInfo) StreamStatus {
	st := StreamStatus{Name: info.Config.Name, Replicas: info.Config.Replicas, Messages: info.State.Msgs,
		Bytes: info.State.Bytes, Followers: []ReplicaStatus{}}
	if info.Cluster == nil { // a single server outside any cluster: it leads
		st.Healthy = true
		return st
	}
	st.Leader = info.Cluster.Leader
	st.Healthy = st.Leader != ""
	for _, p := range info.Cluster.Replicas {
		r := ReplicaStatus{Name: p.Name, Current: p.Current, Offline: p.Offline, Lag: p.Lag,
			Active: p.Active.Round(time.Millisecond).String()}
		st.Healthy = st.Healthy && r.Current && !r.Offline
		st.Followers = append(st.Followers, r)
	}
	return st
}
