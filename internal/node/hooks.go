package node

import (
	"time"

	"github.com/roost-dev/roost/internal/catalog"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/metrics"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/store"
)

// appHooks keeps the catalog and the metrics up to date with the runtime.
type hooks struct{ n *Node }

func (h hooks) Activated(o runtime.ObjectRef) { h.n.metrics.Activated(o.Class) }

func (h hooks) Left(o runtime.ObjectRef, reason string) { h.n.metrics.Evicted(o.Class, reason) }

// AfterBatch records the object's activity, and its size after writes, in
// the catalog; an object whose files a commit removed (DeleteAll) leaves it.
// In cluster mode it snapshots an object whose log outgrew its database.
func (h hooks) AfterBatch(o runtime.ObjectRef, db *store.DB, wrote bool, d time.Duration, err error) {
	n := h.n
	if wrote {
		n.metrics.Commit(d, err)
		if n.cluster != nil && err == nil && db.Exists() {
			n.cluster.Snapshot(o.Class, o.ID, db)
		}
	}
	k := catalog.Key{Class: o.Class, ID: o.ID}
	if !db.Exists() {
		if wrote && err == nil {
			n.catalog.Remove(k)
		}
		return
	}
	now := n.cfg.Clock.Now()
	u := catalog.Update{Key: k, Name: o.Name, LastActive: now}
	if db.TakeCreated() {
		u.Created = now
	}
	if wrote {
		if size, err := db.Size(); err == nil {
			u.Size, u.SetSize = size, true
		}
	}
	n.catalog.Update(u)
}

func (h hooks) EventDone(class, kind string, err error) {
	status := "ok"
	if err != nil {
		status = string(errcode.Of(err))
		if errcode.Of(err) == errcode.Overloaded {
			h.n.metrics.Overloaded(class)
		}
	}
	h.n.metrics.Event(class, kind, status)
}

// metricSources are the gauges read at scrape time.
func (n *Node) metricSources() metrics.Sources {
	return metrics.Sources{
		Active: n.rt.Active,
		Hibernated: func() int {
			perClass, err := n.catalog.Count(n.rt.Context())
			if err != nil {
				return 0
			}
			total := 0
			for _, c := range perClass {
				total += c
			}
			return max(total-n.rt.Active(), 0)
		},
		QueueDepth: func() map[string]int {
			per, _ := n.rt.QueueDepths()
			return per
		},
		MaxQueueDepth: func() int {
			_, deepest := n.rt.QueueDepths()
			return deepest
		},
		OpenDatabases: n.rt.OpenDatabases,
		PendingTimers: n.sched.Len,
		WebSockets:    n.hub.Count,
		SlowClosed:    func() int { return int(n.hub.Stats().SlowClosed) },
		QueueClosed:   func() int { return int(n.hub.Stats().OverloadClosed) },
		QueuedBytes:   func() int { return int(n.hub.Stats().QueuedBytes) },
	}
}
