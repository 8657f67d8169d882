package workflow

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/errcode"
)

// DefaultRetention is how long a finished instance is kept by default
// (from its end), as Cloudflare Workflows keeps them: 30 days.
const DefaultRetention = 30 * 24 * time.Hour

// endOfTime is the Before of a purge of every finished instance.
var endOfTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// purgeBatch is how many instances one round of a purge takes.
const purgeBatch = 100

// PurgeOptions select the finished instances that [Engine.Purge] removes.
type PurgeOptions struct {
	// Before keeps the instances that finished at or after it. Zero takes
	// every finished instance.
	Before time.Time
	// Status takes only the instances in that final status (complete,
	// errored or terminated); empty takes all three.
	Status string
}

// Purge removes the instances of workflow that finished (complete, errored
// or terminated) before opts.Before: their params, journal, output and
// storage, and their rows in the index. It returns how many it removed.
// The engine purges on its own the instances that finished longer ago than
// [Options.Retention]; Purge is for cleaning up sooner.
//
// Purge works from the index: an instance whose end the index has not
// heard of yet (its report was lost in a crash of a cluster node) stays
// until the index hears of it. An instance is checked in its own event
// before it goes, so one restarted meanwhile stays. The ID of a purged
// instance may be created again, as a new instance.
func (e *Engine) Purge(ctx context.Context, workflow string, opts PurgeOptions) (int, error) {
	d, err := e.definition(workflow)
	if err != nil {
		return 0, err
	}
	if opts.Status != "" && !finished(opts.Status) {
		return 0, errcode.New(errcode.BadRequest, "status %q: want complete, errored or terminated", opts.Status)
	}
	if opts.Before.IsZero() {
		opts.Before = endOfTime
	}
	q := expiredQuery{Status: opts.Status, Before: opts.Before.UnixMilli(), Limit: purgeBatch}
	purged := 0
	for {
		ids, err := e.expired(ctx, d, q)
		if err != nil {
			return purged, err
		}
		gone, err := e.purgeIDs(ctx, d, ids, opts.Before)
		if err != nil {
			return purged, err
		}
		n, err := e.forget(ctx, d, forgetRequest{IDs: gone, Before: q.Before})
		purged += n
		e.metrics.purged.WithLabelValues(workflow).Add(float64(n))
		if err != nil || len(ids) < q.Limit {
			return purged, err
		}
	}
}

// purgeIDs purges the instances ids of d that finished before before, and
// returns those that are gone: the instances of a partition here in one
// event of it, the others one by one on their owners.
func (e *Engine) purgeIDs(ctx context.Context, d *definition, ids []string, before time.Time) ([]string, error) {
	for _, id := range ids {
		if err := e.migrate(ctx, d, id); err != nil {
			return nil, fmt.Errorf("workflow: purge %s/%s: %w", d.name, id, err)
		}
	}
	gone := make([]string, 0, len(ids))
	for k, ids := range byPartition(ids) {
		if len(ids) == 0 {
			continue
		}
		err := roost.Do(ctx, d.partStubs[k], func(ctx context.Context, o *partition) error {
			for _, id := range ids {
				p, err := o.place(id)
				if err != nil {
					return err
				}
				ok, err := o.purge(ctx, p, before)
				if err != nil {
					return fmt.Errorf("workflow: purge %s/%s: %w", d.name, id, err)
				}
				if ok {
					gone = append(gone, id)
				}
			}
			return nil
		})
		if !notOwner(err) {
			if err != nil {
				return nil, err
			}
			continue
		}
		for _, id := range ids { // another node owns the partition
			reply, _, err := (&Instance{def: d, id: id}).apply(ctx, opRequest{Op: opPurge, Before: before})
			if err != nil {
				return nil, fmt.Errorf("workflow: purge %s/%s: %w", d.name, id, err)
			}
			if reply.Gone {
				gone = append(gone, id)
			}
		}
	}
	return gone, nil
}

// expired returns the IDs of the index's instances that finished before
// q.Before, oldest first, from the index object here or on its owner, once
// this node's pending reports are written (as a listing does).
func (e *Engine) expired(ctx context.Context, d *definition, q expiredQuery) (ids []string, err error) {
	var pending []entry
	stub := e.index.ns.GetByName(d.name)
	err = roost.Do(ctx, stub, func(ctx context.Context, o *indexObject) (err error) {
		if pending, err = e.index.writePending(ctx, o, d.name); err != nil {
			return err
		}
		ids, err = o.expired(ctx, q)
		return err
	})
	if notOwner(err) {
		q.Pending = e.index.take(d.name)
		pending = q.Pending
		ids, err = indexExpired.Call(ctx, stub, q)
	}
	if err != nil {
		e.index.requeue(d.name, pending)
		return nil, err
	}
	e.index.wrote(d.name, pending)
	return ids, nil
}

// forget removes the rows of purged instances from the index.
func (e *Engine) forget(ctx context.Context, d *definition, req forgetRequest) (n int, err error) {
	if len(req.IDs) == 0 {
		return 0, nil
	}
	stub := e.index.ns.GetByName(d.name)
	err = roost.Do(ctx, stub, func(ctx context.Context, o *indexObject) (err error) {
		n, err = o.forget(ctx, req)
		return err
	})
	if notOwner(err) {
		n, err = indexForget.Call(ctx, stub, req)
	}
	return n, err
}

// The index's side of a purge, also RPC methods for the nodes that do not
// own the index object (see remote.go).
var (
	indexExpired = roost.NewMethod("workflow.index.expired", (*indexObject).serveExpired)
	indexForget  = roost.NewMethod("workflow.index.forget", (*indexObject).forget)
)

func (o *indexObject) serveExpired(ctx context.Context, q expiredQuery) ([]string, error) {
	if err := o.upsert(ctx, q.Pending); err != nil {
		return nil, err
	}
	return o.expired(ctx, q)
}

// expiredQuery asks an index for up to Limit instances in a final status
// (Status only, if set) last updated before Before (Unix ms), once Pending
// (reports of the asking node) are written.
type expiredQuery struct {
	Pending []entry `json:"pending,omitempty"`
	Status  string  `json:"status,omitempty"`
	Before  int64   `json:"before"`
	Limit   int     `json:"limit"`
}

// forgetRequest removes the rows of IDs, if they still show an end before
// Before (Unix ms): an instance created again under a purged ID keeps its
// new row.
type forgetRequest struct {
	IDs    []string `json:"ids"`
	Before int64    `json:"before"`
}

// finishedSQL is the final statuses, for the index's queries.
const finishedSQL = `('complete', 'errored', 'terminated')`

// expiredSchema indexes the finished instances by their end (a finished
// instance's row is last updated when it ends). Index objects made before
// it get it when they are next constructed.
const expiredSchema = `
CREATE INDEX IF NOT EXISTS instances_finished ON instances (updated) WHERE status IN ` + finishedSQL + `;`

// expired reads the rows of a purge's round from instances_finished, oldest
// first. The index is named: without statistics, SQLite would rather read
// every finished row through instances_by_status and sort them (0.3 s at a
// million). Its WHERE is repeated word for word, as a partial index needs.
func (o *indexObject) expired(ctx context.Context, q expiredQuery) ([]string, error) {
	const from = `SELECT id FROM instances INDEXED BY instances_finished WHERE status IN ` + finishedSQL
	sql, args := from+` AND updated < ?1 ORDER BY updated LIMIT ?2`, []any{q.Before, q.Limit}
	if q.Status != "" {
		sql = from + ` AND status = ?3 AND updated < ?1 ORDER BY updated LIMIT ?2`
		args = append(args, q.Status)
	}
	rows, err := o.st.Storage().Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (o *indexObject) forget(ctx context.Context, req forgetRequest) (int, error) {
	n := 0
	for _, id := range req.IDs {
		res, err := o.st.Storage().Exec(ctx, `DELETE FROM instances WHERE id = ? AND status IN `+finishedSQL+` AND updated < ?`,
			id, req.Before)
		if err != nil {
			return n, err
		}
		n += int(res.RowsAffected)
	}
	return n, nil
}

// sweepEvery is how often the engine purges the instances past their
// retention: a hundredth of it, between a second and an hour.
func sweepEvery(retention time.Duration) time.Duration {
	return min(max(retention/100, time.Second), time.Hour)
}

// sweeper purges, every sweepEvery, the instances of every workflow that
// finished longer than the retention ago, until the engine closes. In
// cluster mode each workflow is swept by the node that owns its index
// object.
func (e *Engine) sweeper() {
	defer close(e.sweepDone)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	go func() {
		select {
		case <-e.sweepStop:
			cancel()
		case <-ctx.Done():
		}
	}()
	every := sweepEvery(e.retention)
	// One timer at a time: its fire marks the app busy (so that a test's
	// virtual clock waits for the sweep it started) and hands the sweep
	// here, unless the sweeper stopped.
	due := make(chan func(), 1)
	var mu sync.Mutex
	stopped := false
	arm := func() roost.Timer {
		return e.clock.AfterFunc(every, func() {
			mu.Lock()
			defer mu.Unlock()
			if !stopped {
				due <- e.app.Busy()
			}
		})
	}
	t := arm()
	defer func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		t.Stop()
		select {
		case done := <-due:
			done()
		default:
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case done := <-due:
			e.sweep(ctx)
			done()
			t = arm()
		}
	}
}

// sweep purges the expired instances of every workflow once.
func (e *Engine) sweep(ctx context.Context) {
	e.mu.Lock()
	defs := make([]*definition, 0, len(e.defs))
	for _, d := range e.defs {
		defs = append(defs, d)
	}
	e.mu.Unlock()
	before := e.clock.Now().Add(-e.retention)
	for _, d := range defs {
		if ctx.Err() != nil {
			return
		}
		if e.clustered && !e.ownsIndex(ctx, d) {
			continue // its owner sweeps it
		}
		n, err := e.Purge(ctx, d.name, PurgeOptions{Before: before})
		switch {
		case err != nil && ctx.Err() == nil:
			e.log.Warn("workflow: purge of the instances past their retention failed; tried again at the next sweep",
				"workflow", d.name, "purged", n, "err", err)
		case n > 0:
			e.log.Info("workflow: instances past their retention purged", "workflow", d.name, "purged", n, "retention", e.retention)
		}
	}
}

// ownsIndex reports whether the workflow's index object is this node's.
func (e *Engine) ownsIndex(ctx context.Context, d *definition) bool {
	err := roost.Do(ctx, e.index.ns.GetByName(d.name), func(context.Context, *indexObject) error { return nil })
	return err == nil
}
