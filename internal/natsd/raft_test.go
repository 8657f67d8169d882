package natsd

import (
	"testing"
	"time"
	_ "unsafe" // for go:linkname
)

// randElectionTimeout is the server's: a missing function fails the link,
// where a renamed variable would not.
//
//go:linkname randElectionTimeout github.com/nats-io/nats-server/v2/server.randElectionTimeout
func randElectionTimeout() time.Duration

// The server draws its election timeouts from Roost's bounds, not its own
// defaults (4 to 9 s).
func TestRaftElectionTimeoutIsRoosts(t *testing.T) {
	for range 100 {
		if d := randElectionTimeout(); d < raftMinElectionTimeout || d >= raftMaxElectionTimeout {
			t.Fatalf("election timeout %v, want [%v, %v)", d, raftMinElectionTimeout, raftMaxElectionTimeout)
		}
	}
}
