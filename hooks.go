package roost

import (
	"time"

	"github.com/roost-dev/roost/internal/catalog"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/metrics"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/store"
)

// appHooks keeps the catalog and the metrics up to date with the runtime.
type appHooks struct{ a *App }

func (h appHooks) Activated(o runtime.ObjectRef) { h.a.metrics.Activated(o.Class) }

func (h appHooks) Left(o runtime.ObjectRef, reason string) { h.a.metrics.Evicted(o.Class, reason) }

// AfterBatch records the object's activity, and its size after writes, in
// the catalog; an object whose files a commit removed (DeleteAll) leaves it.
func (h appHooks) AfterBatch(o runtime.ObjectRef, db *store.DB, wrote bool, d time.Duration, err error) {
	a := h.a
	if wrote {
		a.metrics.Commit(d, err)
	}
	k := catalog.Key{Class: o.Class, ID: o.ID}
	if !db.Exists() {
		if wrote && err == nil {
			a.catalog.Remove(k)
		}
		return
	}
	now := a.cfg.Clock.Now()
	u := catalog.Update{Key: k, Name: o.Name, LastActive: now}
	if db.TakeCreated() {
		u.Created = now
	}
	if wrote {
		if size, err := db.Size(); err == nil {
			u.Size, u.SetSize = size, true
		}
	}
	a.catalog.Update(u)
}

func (h appHooks) EventDone(class, kind string, err error) {
	status := "ok"
	if err != nil {
		status = string(errcode.Of(err))
		if errcode.Of(err) == errcode.Overloaded {
			h.a.metrics.Overloaded(class)
		}
	}
	h.a.metrics.Event(class, kind, status)
}

// metricSources are the gauges read at scrape time.
func (a *App) metricSources() metrics.Sources {
	return metrics.Sources{
		Active: a.rt.Active,
		Hibernated: func() int {
			n, err := a.catalog.Count(a.rt.Context())
			if err != nil {
				return 0
			}
			total := 0
			for _, c := range n {
				total += c
			}
			return max(total-a.rt.Active(), 0)
		},
		QueueDepth: func() map[string]int {
			per, _ := a.rt.QueueDepths()
			return per
		},
		MaxQueueDepth: func() int {
			_, deepest := a.rt.QueueDepths()
			return deepest
		},
		OpenDatabases: a.rt.OpenDatabases,
		PendingTimers: a.sched.Len,
		WebSockets:    a.hub.Count,
		SlowClosed:    func() int { return int(a.hub.Stats().SlowClosed) },
	}
}
