package roost

import (
	"context"
	"time"

	"github.com/roost-dev/roost/internal/node"
)

// State is what an object instance receives from the runtime: its identity,
// its storage and its controls. It is valid for the life of the instance;
// after a reset or eviction its methods fail with ErrClosed.
type State struct {
	act *node.Activation
	ctx context.Context
	ns  *Namespace
}

// ID returns the object's ID.
func (s *State) ID() ID { return s.act.ID() }

// Class returns the object's class name.
func (s *State) Class() string { return s.act.Class() }

// Stub returns a stub for the object itself: for work a handler starts
// that reaches the object later, from outside its events, such as the runs
// of the workflows it hosts.
func (s *State) Stub() *Stub { return s.ns.Get(s.ID()) }

// Storage returns the object's private storage: a KV API and a SQL API on
// one SQLite database.
func (s *State) Storage() *Storage { return &Storage{act: s.act} }

// Now returns the current time on the app's clock ([Config.Clock]): the real
// time in production, a virtual one in tests.
func (s *State) Now() time.Time { return s.act.Now() }

// Context returns the context of the activation: the constructor's. Handlers
// get their own per event.
func (s *State) Context() context.Context { return s.ctx }

// BlockConcurrencyWhile runs fn before any other event is delivered to the
// object. Typical use is in the constructor, to set up a schema or load
// state. fn gets a context that ends after the configured timeout (default
// 30s); if fn fails or times out, the instance is reset and the event that
// constructed it fails. Writes fn makes commit with the constructor's.
func (s *State) BlockConcurrencyWhile(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.act.BlockConcurrencyWhile(ctx, fn)
}
