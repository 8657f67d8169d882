package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// errNoPeers is JetStream's "no suitable peers for placement" (10005).
const errNoPeers jetstream.ErrorCode = 10005

// placementWait bounds how long a node waits at its start for JetStream to
// place its streams.
const placementWait = 30 * time.Second

// placed runs create, again while it fails because JetStream cannot place
// a stream yet, for up to placementWait or until ctx ends. At a cluster's
// first start the meta group may have elected a leader before it knows
// enough peers for a replicated stream: nodes starting together then race,
// and the loser of the race must wait for the others to join rather than
// exit.
func placed(ctx context.Context, create func() error) error {
	deadline := time.Now().Add(placementWait)
	for {
		err := create()
		var api *jetstream.APIError
		if err == nil || !errors.As(err, &api) || api.ErrorCode != errNoPeers || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%v)", err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
