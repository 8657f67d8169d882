package natsd

import (
	"time"
	_ "unsafe" // for go:linkname

	_ "github.com/nats-io/nats-server/v2/server" // the variables below
)

// The Raft timing of the embedded servers. NATS elects a new leader for a
// stream 4 to 9 s after its leader stopped sending heartbeats (one a
// second), and offers no option to change it: a node's death stalled the
// streams it led, and with them every shard lease and object log, for
// longer than Roost's lease (failover p99 19.5 s in BENCHMARKS.md). Roost
// sets the server's own variables, as its tests do, before any server
// starts: heartbeats four times a second and elections after 1 to 2 s of
// silence, which a loaded two-core machine's pauses stay well under.
// Raft's safety does not depend on these times, only how soon a group
// notices a dead leader. A test checks that the server draws its election
// timeouts from them (a renamed variable would not fail the build).
var (
	//go:linkname raftMinElectionTimeout github.com/nats-io/nats-server/v2/server.minElectionTimeout
	raftMinElectionTimeout time.Duration
	//go:linkname raftMaxElectionTimeout github.com/nats-io/nats-server/v2/server.maxElectionTimeout
	raftMaxElectionTimeout time.Duration
	//go:linkname raftHeartbeat github.com/nats-io/nats-server/v2/server.hbInterval
	raftHeartbeat time.Duration
)

func init() {
	raftMinElectionTimeout = time.Second
	raftMaxElectionTimeout = 2 * time.Second
	raftHeartbeat = 250 * time.Millisecond
}
