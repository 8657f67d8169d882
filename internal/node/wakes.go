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
	// the catalog holds durably (or will, for times only ever raised); in
	// cluster mode, that the cluster's wake index holds, as this node wrote
	// it while it owned the object's shard at epoch.
	indexed map[catalog.Key]indexedAt
}

// indexedAt is an entry of wakes.indexed. epoch is 0 on a single node.
type indexedAt struct {
	at    time.Time
	epoch uint64
}

// epoch returns the epoch of the lease under which this node owns the
// object's shard: 0 on a single node, or if it does not own it (a cluster's
// epochs start at 1). An entry of indexed written under another epoch says
// nothing of the cluster's index now: other owners came between, and may
// have cleared or raised the object's wake.
func (w *wakes) epoch(class string, id ids.ID) uint64 {
	if w.cluster == nil {
		return 0
	}
	epoch, _ := w.cluster.Local(class, id)
	return epoch
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
	epoch := w.epoch(class, id)
	w.mu.Lock()
	e, ok := w.indexed[k]
	w.mu.Unlock()
	if ok && e.epoch == epoch && !e.at.After(next) {
		return nil
	}
	set := w.cat.SetWake
	switch {
	case w.cluster != nil:
		set = func(_ context.Context, k catalog.Key, at time.Time) error {
			return w.cluster.SetWake(k.Class, k.ID, at, epoch)
		}
	case created:
		set = w.cat.SetWakeOfNew
	}
	if err := set(context.Background(), k, next); err != nil {
		return err
	}
	w.mu.Lock()
	w.indexed[k] = indexedAt{next, epoch}
	w.mu.Unlock()
	return nil
}

// Committed records an object's timers after a commit changed them. In
// cluster mode only Prepare records what the cluster's index holds: a
// later time leaves its entry (still at or before the earliest timer), and
// an object left without timers has its wake cleared there, unless a later
// owner of its shard wrote it (see [cluster.Cluster.ClearWake]).
func (w *wakes) Committed(class string, id ids.ID, next time.Time, count int) {
	k := catalog.Key{Class: class, ID: id}
	w.mu.Lock()
	switch {
	case next.IsZero():
		delete(w.indexed, k)
		if w.cluster != nil {
			if epoch := w.epoch(class, id); epoch > 0 {
				defer w.cluster.ClearWake(class, id, epoch)
			}
		}
	case w.cluster == nil:
		w.indexed[k] = indexedAt{at: next}
	}
	w.mu.Unlock()
	w.cat.Update(catalog.Update{Key: k, Wake: &catalog.Wake{At: next, Timers: count}})
	w.sched.Set(scheduler.Key{Class: class, ID: id}, next)
}

// Found records an object's next wake as an early wake found it, without a
// commit: on a single node as Committed does. In cluster mode the cluster's
// index is left as it is: this node may have lost the object's shard since
// the wake began, and its owner's entry must stand (an entry left for an
// object without timers only makes its next owner look for due timers once).
func (w *wakes) Found(class string, id ids.ID, next time.Time, count int) {
	if w.cluster == nil {
		w.Committed(class, id, next, count)
		return
	}
	k := catalog.Key{Class: class, ID: id}
	w.cat.Update(catalog.Update{Key: k, Wake: &catalog.Wake{At: next, Timers: count}})
	w.sched.Set(scheduler.Key{Class: class, ID: id}, next)
}

// load fills the index from the catalog at startup.
func (w *wakes) load(ctx context.Context) (int, error) {
	n := 0
	err := w.cat.Wakes(ctx, func(k catalog.Key, at time.Time) error {
		w.indexed[k] = indexedAt{at: at}
		w.sched.Set(scheduler.Key{Class: k.Class, ID: k.ID}, at)
		n++
		return nil
	})
	return n, err
}
