package roost

import (
	"errors"
	"time"

	"github.com/roost-dev/roost/internal/node"
)

// ClusterConfig makes the app one node of a cluster: several `roost serve`
// processes that share one set of objects, each object owned by one node
// at a time and its every commit replicated (see the README's "Cluster
// mode"). The cluster runs on NATS JetStream, embedded in each node unless
// NATSURL names an existing NATS cluster.
type ClusterConfig struct {
	// Node is this node's name, unique in the cluster. Required.
	Node string
	// Listen is the host:port of this node's cluster listener (its
	// embedded NATS server's routes). Required unless NATSURL is set.
	Listen string
	// Join lists the other nodes' Listen addresses.
	Join []string
	// NATSURL connects to an existing NATS cluster with JetStream instead of
	// embedding a server.
	NATSURL string
	// Advertise is the host:port of this node's HTTP server as the other
	// nodes reach it, to forward requests. Required.
	Advertise string
	// Shards is the number of shards objects hash to, when the cluster is
	// created (an existing cluster keeps its own). Default 64.
	Shards int
	// Replicas is the replication factor of the log; default 3, or the
	// number of nodes when fewer.
	Replicas int
	// Lease is how long a node owns its shards without renewing: a failed
	// node's objects serve again on others after about this long. Default
	// 3s; at least 500ms.
	Lease time.Duration
	// Secret authenticates requests between nodes. Without one a node
	// accepts forwarded requests from loopback addresses only.
	Secret string
}

func (c *ClusterConfig) validate() error {
	if c == nil {
		return nil
	}
	if c.Node == "" || c.Advertise == "" {
		return errors.New("config: Cluster: Node and Advertise must be set")
	}
	if c.Listen == "" && c.NATSURL == "" {
		return errors.New("config: Cluster: Listen or NATSURL must be set")
	}
	if c.Lease != 0 && c.Lease < 500*time.Millisecond || c.Shards < 0 || c.Replicas < 0 {
		return errors.New("config: Cluster: Lease must be ≥ 500ms, Shards and Replicas ≥ 0")
	}
	return nil
}

// node returns the node's form of the configuration (nil: one node).
func (c *ClusterConfig) node() *node.ClusterConfig {
	if c == nil {
		return nil
	}
	return &node.ClusterConfig{Node: c.Node, Listen: c.Listen, Join: c.Join, NATSURL: c.NATSURL,
		Advertise: c.Advertise, Shards: c.Shards, Replicas: c.Replicas, Lease: c.Lease, Secret: c.Secret}
}

// Node returns this node's name in its cluster ([ClusterConfig.Node]), or ""
// for an app that runs alone. Code beside the objects, such as the workflow
// engine, uses it to tell cluster mode, where another node may own an object.
func (a *App) Node() string {
	if a.cfg.Cluster == nil {
		return ""
	}
	return a.cfg.Cluster.Node
}
