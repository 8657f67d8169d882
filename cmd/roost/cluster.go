package main

import (
	"errors"
	"net"
	"time"

	"github.com/spf13/pflag"

	"github.com/roost-dev/roost"
)

// clusterOptions are the flags of `roost serve` that make it a node of a
// cluster.
type clusterOptions struct {
	node, listen, natsURL, advertise, secret string
	join                                     []string
	shards, replicas                         int
	lease                                    time.Duration
}

func (c *clusterOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&c.node, "node", "", "cluster mode: this node's name, unique in the cluster (with --cluster or --nats-url)")
	f.StringVar(&c.listen, "cluster", "", "cluster mode: host:port of this node's cluster listener (its embedded NATS server's routes)")
	f.StringSliceVar(&c.join, "join", nil, "cluster mode: the other nodes' --cluster addresses, comma-separated")
	f.StringVar(&c.natsURL, "nats-url", "", "cluster mode: use this existing NATS cluster (JetStream) instead of the embedded server")
	f.StringVar(&c.advertise, "advertise", "", "cluster mode: host:port other nodes forward HTTP requests to (default: the --addr listened on)")
	f.IntVar(&c.shards, "shards", 64, "cluster mode: shards objects hash to, when the cluster is created (an existing cluster keeps its own)")
	f.IntVar(&c.replicas, "replicas", 0, "cluster mode: replicas of each object's log (0: 3, or the number of nodes when fewer)")
	f.DurationVar(&c.lease, "lease", 3*time.Second, "cluster mode: shard lease; a failed node's objects serve again elsewhere after about this long")
	f.StringVar(&c.secret, "cluster-secret", "", "cluster mode: shared secret of requests between nodes (without one, forwarded requests are accepted from loopback only)")
}

// config returns the app's cluster configuration, nil without --node.
// addr is the address the server listens on.
func (c *clusterOptions) config(addr net.Addr) (*roost.ClusterConfig, error) {
	if c.node == "" {
		if c.listen != "" || c.natsURL != "" || len(c.join) > 0 {
			return nil, errors.New("--cluster, --join and --nats-url need --node (this node's name)")
		}
		return nil, nil
	}
	if c.listen == "" && c.natsURL == "" {
		return nil, errors.New("--node needs --cluster (this node's cluster address) or --nats-url")
	}
	adv := c.advertise
	if adv == "" {
		adv = addr.String()
	}
	return &roost.ClusterConfig{Node: c.node, Listen: c.listen, Join: c.join, NATSURL: c.natsURL, Advertise: adv,
		Shards: c.shards, Replicas: c.replicas, Lease: c.lease, Secret: c.secret}, nil
}
