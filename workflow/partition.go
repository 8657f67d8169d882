package workflow

import (
	"context"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/errcode"
)

// Standalone instances live in partitions: a workflow's instances hash by
// ID to one of a fixed number of objects of class "wfp-<name>" (named
// "p0" and "p1"), whose databases hold their params, journals, events
// and own state side by side. A partition is an ordinary object, placed
// and replicated like any other in cluster mode; its events are short (a
// step's record, a status change) because steps run outside them (see
// run.attemptOut), and the runtime commits the queued events of an object
// together, so the records of many instances share one commit (and one
// fsync) while each instance's event stays atomic on its own.
//
// The keys of a partition:
//
//	i/<id>/...    the instance's storage, as journal.go lays it out
//	i/<id>/kv/... its own state (StepContext.Storage)
//	live/<id>     on a single node: the instance may run, or its end is
//	              not in the index yet (see settle); the startup check
//	              after a crash looks here
//
// and its named timer "i/<id>" wakes the instance.
const (
	partitionClassPrefix = "wfp-"
	instancePrefix       = "i/"
	livePrefix           = "live/"
)

// partitions is the number of partitions of a workflow. It is part of the
// data layout (an instance's partition is its ID's hash modulo it), so it
// cannot change once instances exist. Few partitions make big group
// commits: with 64 callers, 2 run the three-step workflow a fifth faster
// than 4 and nearly twice as fast as 8 (see BENCHMARKS.md, "Partitioned
// journals"). The price is in cluster mode: a partition is one object,
// with one owner, so a workflow's standalone instances run on at most 2
// nodes (many workflows spread further; hosted instances run where their
// hosts are).
const partitions = 2

// partitionOf returns the partition of the instance id.
func partitionOf(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % partitions)
}

// byPartition groups ids by their partition.
func byPartition(ids []string) (parts [partitions][]string) {
	for _, id := range ids {
		k := partitionOf(id)
		parts[k] = append(parts[k], id)
	}
	return parts
}

// partition is a partition object: all its state is in its storage, and
// the records of its running instances also in metas, which spares an
// event of a run the read and decoding of the record it then writes. The
// cache follows the partition's events: an event that fails resets the
// object, and with it the cache, as does a batch whose commit fails.
type partition struct {
	st    *roost.State
	def   *definition
	metas metaCache
}

// metaCache holds the records of a partition's running and queued
// instances, by ID.
type metaCache map[string]*meta

// registerPartitions registers d's partition class and makes its stubs.
func (d *definition) registerPartitions() {
	d.parts = roost.RegisterWithOptions(d.e.app, partitionClassPrefix+d.name, func(st *roost.State) (*partition, error) {
		return &partition{st: st, def: d, metas: metaCache{}}, nil
	}, &roost.ClassOptions{Methods: []roost.MethodHandler{opMethod}})
	for k := range d.partStubs {
		d.partStubs[k] = d.parts.GetByName("p" + strconv.Itoa(k))
	}
}

// standalone is the home of the standalone instance id of d.
func (d *definition) standalone(id string) *home {
	return &home{stub: d.partStubs[partitionOf(id)], class: d.parts.Class(), prefix: instancePrefix + id + "/",
		timer: instancePrefix + id, id: id, key: runKey{d.name, id}}
}

// place is the standalone instance id as o's event sees it; it fails if
// the instance belongs to another partition (a request crafted by hand).
func (o *partition) place(id string) (place, error) {
	if err := checkID(id); err != nil {
		return place{}, err
	}
	h := o.def.standalone(id)
	if h.stub.ID() != o.st.ID() {
		return place{}, errcode.New(errcode.BadRequest, "workflow %s: instance %q is not in partition %s", o.def.name, id, o.st.ID())
	}
	return place{st: o.st.Storage(), h: h, metas: o.metas}, nil
}

// Timer resumes the instance whose timer fired: its sleep ended, its wait
// timed out, or its retry is due; in cluster mode, also at each beat while
// it runs, which sets the next beat and resumes it on a new owner (see
// Options.Beat).
func (o *partition) Timer(ctx context.Context, f roost.TimerFire) error {
	id, ok := strings.CutPrefix(f.Name, instancePrefix)
	if !ok {
		return nil
	}
	p, err := o.place(id)
	if err != nil {
		return nil // not an instance's: nothing to resume
	}
	return o.def.wake(ctx, p)
}

// markLive records, on a single node, that the standalone instance at p may
// run (it was created or restarted): the startup check after a crash finds
// it there (see reconcile) until the index has its end (see settle).
func (e *Engine) markLive(ctx context.Context, p place) error {
	if e.clustered || p.h.hosted {
		return nil // its beat resumes it
	}
	return p.st.Put(ctx, livePrefix+p.h.id, []byte{})
}

// remove deletes the instance at p: its storage, its wake and its live
// mark.
func (p place) remove(ctx context.Context) error {
	entries, err := p.st.List(ctx, &roost.ListOptions{Prefix: p.h.prefix})
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(entries)+1)
	for _, en := range entries {
		keys = append(keys, en.Key)
	}
	if !p.h.hosted {
		keys = append(keys, livePrefix+p.h.id)
	}
	if _, err := p.st.DeleteMany(ctx, keys); err != nil {
		return err
	}
	delete(p.metas, p.h.id)
	return p.clearWake(ctx)
}

// purge removes the instance at p in its event if it finished before
// before, and reports whether it is gone (removed now or before); false: it
// runs again, or it ended later, and its row in the index stays.
func (o *partition) purge(ctx context.Context, p place, before time.Time) (bool, error) {
	m, ok, err := p.journal().meta(ctx)
	switch {
	case err != nil:
		return false, err
	case !ok:
		return true, nil
	case !finished(m.Status) || !m.Finished.Before(before):
		return false, nil
	}
	return true, p.remove(ctx)
}

// settle drops the live marks of the instances of d whose end the index
// just wrote: on a single node, once the index flushed them.
func (e *Engine) settle(ctx context.Context, d *definition, written []entry) {
	if e.clustered {
		return
	}
	var ended []string
	for _, en := range written {
		if finished(en.Status) {
			ended = append(ended, en.ID)
		}
	}
	for k, ids := range byPartition(ended) {
		if len(ids) == 0 {
			continue
		}
		err := roost.Do(ctx, d.partStubs[k], func(ctx context.Context, o *partition) error {
			var done []string
			for _, id := range ids {
				p, err := o.place(id)
				if err != nil {
					return err
				}
				m, ok, err := p.journal().meta(ctx)
				if err != nil {
					return err
				}
				if !ok || finished(m.Status) { // not restarted since
					done = append(done, livePrefix+id)
				}
			}
			_, err := o.st.Storage().DeleteMany(ctx, done)
			return err
		})
		if err != nil && ctx.Err() == nil {
			// The marks stay: the next startup check after a crash reads
			// these instances again, which is harmless.
			e.log.Debug("workflow: cannot drop live marks", "workflow", d.name, "err", err)
		}
	}
}

// liveIDs calls fn with the IDs of the live instances of d's partition k,
// a page at a time.
func (e *Engine) liveIDs(d *definition, k int, fn func(ids []string)) error {
	start := livePrefix
	for {
		var ids []string
		err := roost.Do(e.ctx, d.partStubs[k], func(ctx context.Context, o *partition) error {
			entries, err := o.st.Storage().List(ctx, &roost.ListOptions{Prefix: livePrefix, Start: start, Limit: 1000})
			for _, en := range entries {
				ids = append(ids, strings.TrimPrefix(en.Key, livePrefix))
			}
			return err
		})
		if err != nil || len(ids) == 0 {
			return err
		}
		fn(ids)
		start = livePrefix + ids[len(ids)-1] + "\x00"
	}
}
