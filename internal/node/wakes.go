package node

import (
	"context"
	"sync"
	"time"

	"github.com/roost-dev/roost/internal/catalog"
	"github.com/roost-dev/roost/internal/cluster"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/scheduler"
)

// wakes is the node-level index of when objects must be woken for their
// timers: the durable copy in the catalog, the in-memory queue in the
// scheduler. It implements store.TimerIndex.
type wakes struct {
	cat   *catalog.Catalog
	sched *scheduler.Scheduler
	// cluster, in cluster mode, holds the durable copy of the wakes instead
	// of the catalog, so that a shard's new owner finds them.
	cluster *cluster.Cluster

	mu sync.Mutex
	// indexed is, per object, a time at or before its earliest timer that
	// the catalog holds durably (or will, for times only ever raised).
	indexed map[catalog.Key]time.Time
}

// Prepare makes an earlier wake durable before the commit that needs it.
// The wake of an object whose storage the commit creates is only queued:
// after a crash, the startup check finds the object missing from the
// catalog and reads its timers (see [catalog.Catalog.SetWakeOfNew]).
func (w *wakes) Prepare(class string, id ids.ID, next time.Time, created bool) error {
	if next.IsZero() {
		return nil
	}
	k := catalog.Key{Class: class, ID: id}
	w.mu.Lock()
	at, ok := w.indexed[k]
	w.mu.Unlock()
	if ok && !at.After(next) {
		return nil
	}
	set := w.cat.SetWake
	switch {
	case w.cluster != nil:
		set = func(_ context.Context, k catalog.Key, at time.Time) error { return w.cluster.SetWake(k.Class, k.ID, at) }
	case created:
		set = w.cat.SetWakeOfNew
	}
	if err := set(context.Background(), k, next); err != nil {
		return err
	}
	w.mu.Lock()
	w.indexed[k] = next
	w.mu.Unlock()
	return nil
}

// Committed records an object's timers after a commit changed them.
func (w *wakes) Committed(class string, id ids.ID, next time.Time, count int) {
	k := catalog.Key{Class: class, ID: id}
	w.mu.Lock()
	if next.IsZero() {
		_, had := w.indexed[k]
		delete(w.indexed, k)
		if had && w.cluster != nil {
			defer w.cluster.ClearWake(class, id)
		}
	} else {
		w.indexed[k] = next
	}
	w.mu.Unlock()
	w.cat.Update(catalog.Update{Key: k, Wake: &catalog.Wake{At: next, Timers: count}})
	w.sched.Set(scheduler.Key{Class: class, ID: id}, next)
}

// load fills the index from the catalog at startup.
func (w *wakes) load(ctx context.Context) (int, error) {
	n := 0
	err := w.cat.Wakes(ctx, func(k catalog.Key, at time.Time) error {
		w.indexed[k] = at
		w.sched.Set(scheduler.Key{Class: k.Class, ID: k.ID}, at)
		n++
		return nil
	})
	return n, err
}
