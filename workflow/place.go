package workflow

import (
	"context"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/errcode"
)

// home is where an instance lives: the object whose storage holds its
// journal, under which keys, and what wakes it. A standalone instance is
// an object of its own (class "wf-<name>", its keys under "workflow/", its
// alarm); a hosted one lives in its host's storage beside the host's data,
// under "workflow/<name>/<id>/", woken by the host's named timer of that
// name (see [Host]).
type home struct {
	stub   *roost.Stub
	class  string // the object's class, for errors
	prefix string
	// timer names the named timer that wakes the instance; "" is the
	// object's alarm.
	timer string
	// id is the instance's ID; key is its key in the engine's runs,
	// waiters and retries.
	id  string
	key runKey
}

// standalone is the home of the standalone instance id of d.
func (d *definition) standalone(id string) *home {
	return &home{stub: d.ns.GetByName(id), class: d.ns.Class(), prefix: "workflow/", id: id, key: runKey{d.name, id}}
}

// hosted reports whether the instance lives in another object's storage.
func (h *home) hosted() bool { return h.timer != "" }

// place is an instance's home as one of its host's events sees it.
type place struct {
	st *roost.Storage
	h  *home
}

func (p place) journal() journal { return journal{st: p.st, prefix: p.h.prefix} }

// setWake wakes the instance at t.
func (p place) setWake(ctx context.Context, t time.Time) error {
	if p.h.timer == "" {
		return p.st.SetAlarm(ctx, t)
	}
	return p.st.Schedule(ctx, p.h.timer, t, nil)
}

// wakeAt returns when the instance is woken, if it is.
func (p place) wakeAt(ctx context.Context) (time.Time, bool, error) {
	if p.h.timer == "" {
		return p.st.GetAlarm(ctx)
	}
	timers, err := p.st.Timers(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	for _, t := range timers {
		if t.Name == p.h.timer {
			return t.Next, true, nil
		}
	}
	return time.Time{}, false, nil
}

// clearWake removes the instance's wake.
func (p place) clearWake(ctx context.Context) error {
	if p.h.timer == "" {
		return p.st.DeleteAlarm(ctx)
	}
	_, err := p.st.CancelTimer(ctx, p.h.timer)
	return err
}

// do runs fn as an event of the instance's home object, in this process.
func (e *Engine) do(ctx context.Context, h *home, fn func(ctx context.Context, p place) error) error {
	return roost.Do(ctx, h.stub, func(ctx context.Context, obj any) error {
		var st *roost.State
		switch o := obj.(type) {
		case *object:
			st = o.st
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
