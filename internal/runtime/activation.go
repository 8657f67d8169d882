package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/store"
)

// Activation is one life of an object in memory: what its constructor and
// handlers are given.
type Activation struct {
	obj  *object
	db   *store.DB
	dead atomic.Bool
}

// Class returns the object's class name.
func (a *Activation) Class() string { return a.obj.class.Name }

// ID returns the object's ID.
func (a *Activation) ID() ids.ID { return a.obj.id }

// DB returns the object's database.
func (a *Activation) DB() (*store.DB, error) {
	if a.dead.Load() {
		return nil, store.ErrClosed
	}
	return a.db, nil
}

// BlockConcurrencyWhile runs fn before any other event of the object is
// delivered, bounded by the configured timeout. If fn fails or times out the
// instance is reset after the current event. Events of a serialized class
// already take turns, so fn simply runs now; a concurrent class must call it
// from its constructor, which runs before any event.
func (a *Activation) BlockConcurrencyWhile(ctx context.Context, fn func(ctx context.Context) error) error {
	if a.dead.Load() {
		return store.ErrClosed
	}
	// The deadline comes from the runtime's clock, so tests can advance it.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := a.obj.rt.cfg.Clock.AfterFunc(a.obj.rt.cfg.BlockTimeout, func() { cancel(context.DeadlineExceeded) })
	defer timer.Stop()
	err := fn(ctx)
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		a.obj.mustReset.Store(true)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			return &errcode.Error{Code: errcode.InitFailed, Message: fmt.Sprintf("BlockConcurrencyWhile timed out after %s", a.obj.rt.cfg.BlockTimeout), Err: context.DeadlineExceeded}
		}
		return fmt.Errorf("BlockConcurrencyWhile: %w", err)
	}
	return nil
}
