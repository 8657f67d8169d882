package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errNoPeers is JetStream's "no suitable peers for placement" (10005).
const errNoPeers jetstream.ErrorCode = 10005

// placementWait bounds how long a node waits at its start for JetStream to
// place its streams.
const placementWait = 30 * time.Second

// placed runs create, again while it fails with a transient JetStream
// error, for up to placementWait or until ctx ends. At a cluster's first
// start the meta group may have elected a leader before it knows enough
// peers for a replicated stream: nodes starting together then race, and
// the loser of the race must wait for the others to join rather than exit.
// A node restarted after a kill may find a stream still electing its
// leader (no response from the stream).
func placed(ctx context.Context, create func() error) error {
	deadline := time.Now().Add(placementWait)
	for {
		err := create()
		if err == nil || !transient(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%v)", err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// transient reports whether err is a JetStream error that goes away once
// the cluster settles: no peers to place a stream yet, or no answer from
// a stream or the API (a leader being elected).
func transient(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		return api.ErrorCode == errNoPeers
	}
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
}
