package workflow

import (
	"context"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/errcode"
)

// home is where an instance lives: the object whose storage holds its
// journal, under which keys, and the named timer that wakes it. A
// standalone instance lives in one of its workflow's partitions (see
// partition.go) under "i/<id>/", woken by the partition's timer "i/<id>";
// a hosted one lives in its host's storage beside the host's data, under
// "workflow/<name>/<id>/", woken by the host's timer of that name (see
// [Host]).
type home struct {
	stub   *roost.Stub
	class  string // the object's class, for errors
	prefix string
	timer  string
	// hosted is set for an instance that lives in its host's storage: its
	// steps run in the host's events, and the index does not list it.
	hosted bool
	// id is the instance's ID; key is its key in the engine's runs,
	// waiters and retries.
	id  string
	key runKey
}

// kvPrefix starts the keys of an instance's own state (StepContext.Storage)
// under its home's prefix.
const kvPrefix = "kv/"

// place is an instance's home as one of its host's events sees it.
type place struct {
	st *roost.Storage
	h  *home
	// metas is its partition's cache of records (nil for a hosted one).
	metas metaCache
}

func (p place) journal() journal {
	return journal{st: p.st, prefix: p.h.prefix, metas: p.metas, id: p.h.id}
}

// setWake wakes the instance at t.
func (p place) setWake(ctx context.Context, t time.Time) error {
	return p.st.Schedule(ctx, p.h.timer, t, nil)
}

// clearWake removes the instance's wake.
func (p place) clearWake(ctx context.Context) error {
	_, err := p.st.CancelTimer(ctx, p.h.timer)
	return err
}

// do runs fn as an event of the instance's home object, in this process.
func (e *Engine) do(ctx context.Context, h *home, fn func(ctx context.Context, p place) error) error {
	return roost.Do(ctx, h.stub, func(ctx context.Context, obj any) error {
		var st *roost.State
		switch o := obj.(type) {
		case *partition:
			return fn(ctx, place{st: o.st.Storage(), h: h, metas: o.metas})
		case hoster:
			host := o.WorkflowHost()
			if host == nil {
				return errcode.New(errcode.Internal, "workflow: the host object of class %s has no Host", h.class)
			}
			st = host.st
		default:
			return errcode.New(errcode.Internal, "workflow: an object of class %s (%T) hosts no workflows: it has no WorkflowHost method", h.class, obj)
		}
		return fn(ctx, place{st: st.Storage(), h: h})
	})
}
