package catalog

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// maxSpare is the largest batch map kept for reuse; a larger one, left by a
// burst, is dropped so that its memory is freed.
const maxSpare = 1 << 16

// round is one flush as the SetWake and Flush calls waiting for it see it.
type round struct {
	done chan struct{} // closed when the flush has ended
	err  error         // the flush's error; read only after done is closed
}

// job is a write with its own transaction, run by the writer after a batch.
type job struct {
	ctx  context.Context
	run  func(ctx context.Context, tx *sql.Tx) error
	done chan error // capacity 1: the writer never blocks on it
}

// join returns the round that the next flush completes. c.mu must be held,
// in the same critical section as the change the caller waits for, so that
// the flush that takes the change is the one that completes the round.
func (c *Catalog) join() *round {
	if c.next == nil {
		c.next = &round{done: make(chan struct{})}
	}
	return c.next
}

// wait wakes the writer and waits for r or the end of ctx.
func (c *Catalog) wait(ctx context.Context, r *round) error {
	c.wake()
	if c.hooks != nil && c.hooks.queued != nil {
		c.hooks.queued()
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Catalog) wake() {
	select {
	case c.kick <- struct{}{}:
	default: // already woken; the next flush takes this change too
	}
}

// Flush writes every change made before it was called, in one transaction,
// and waits for the commit. It returns nil at once when nothing is pending.
// If ctx ends first, the changes are still written. On error they stay
// pending for the writer's retry.
func (c *Catalog) Flush(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("catalog: flush: %w", ErrClosed)
	}
	if len(c.pending) == 0 && c.inflight == nil {
		c.mu.Unlock()
		return nil
	}
	r := c.join()
	c.mu.Unlock()
	if err := c.wait(ctx, r); err != nil {
		return fmt.Errorf("catalog: flush: %w", err)
	}
	return nil
}

// do runs fn in a transaction of its own on the writer, after the next
// batch, and returns its error. If ctx ends first, do returns its error and
// fn may or may not have been committed.
func (c *Catalog) do(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	j := &job{ctx: ctx, run: fn, done: make(chan error, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.jobs = append(c.jobs, j)
	c.mu.Unlock()
	c.wake()
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the writer: it flushes when woken by a durable request, on every
// tick of FlushInterval, and once more when Close cancels ctx.
func (c *Catalog) run(ctx context.Context) {
	t := time.NewTicker(c.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := c.flush(); err != nil {
				c.cfg.Logger.Error("catalog: changes lost at close; Reconcile repairs the inventory at the next start",
					"path", c.cfg.Path, "err", err)
				c.closeErr = fmt.Errorf("catalog: close: flush: %w", err)
			}
			return
		case <-c.kick:
		case <-t.C:
		}
		c.flush()
	}
}

// flush takes everything pending, writes it in one transaction, completes
// the waiting round with the result, and then runs the queued jobs. A failed
// batch goes back under the changes made since, to be retried.
func (c *Catalog) flush() error {
	if c.hooks != nil && c.hooks.beforeDrain != nil {
		c.hooks.beforeDrain()
	}
	c.mu.Lock()
	batch, r, jobs := c.pending, c.next, c.jobs
	c.next, c.jobs = nil, nil
	n := len(batch) // read under mu: an empty batch stays the pending map
	if n > 0 {
		c.pending, c.spare, c.inflight = c.spare, nil, batch
	}
	c.mu.Unlock()

	var err error
	if n > 0 {
		err = storageError(c.write(batch))
		c.settle(batch, err)
		c.report(err, n)
		if c.hooks != nil && c.hooks.written != nil {
			c.hooks.written(err)
		}
	}
	if r != nil {
		r.err = err
		close(r.done)
	}
	for _, j := range jobs {
		j.done <- storageError(c.runJob(j))
	}
	return err
}

// settle ends the writing of batch: on success its map is kept for reuse,
// on failure it goes back under the changes made since it was taken.
func (c *Catalog) settle(batch map[Key]pending, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight = nil
	if err == nil {
		if len(batch) <= maxSpare {
			clear(batch)
			c.spare = batch
		} else {
			c.spare = make(map[Key]pending)
		}
		return
	}
	for k, q := range c.pending {
		p := batch[k]
		p.then(q)
		batch[k] = p
	}
	clear(c.pending)
	c.pending, c.spare = batch, c.pending
}

// write writes batch in one transaction with the prepared statements.
func (c *Catalog) write(batch map[Key]pending) (err error) {
	ctx := context.Background() // a flush is never abandoned half way
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var ups [allColumns + 1]*sql.Stmt // tx's forms of the statements it uses
	del := tx.StmtContext(ctx, c.stmts.delete)
	now := c.cfg.Clock.Now().UnixMilli()
	for _, k := range c.sortedKeys(batch) {
		p, id := batch[k], k.ID.String()
		if p.removed {
			if _, err := del.ExecContext(ctx, k.Class, id); err != nil {
				return fmt.Errorf("delete %s: %w", k, err)
			}
		}
		if p.upsert {
			set := p.columns()
			if ups[set] == nil {
				ups[set] = tx.StmtContext(ctx, c.stmts.upsert[set])
			}
			if _, err := ups[set].ExecContext(ctx, k.Class, id, p.name, p.created, now, p.lastActive,
				p.setSize, p.size, int64(p.wake), p.wakeAt, p.timers); err != nil {
				return fmt.Errorf("upsert %s: %w", k, err)
			}
		}
	}
	if c.hooks != nil && c.hooks.writeErr != nil {
		if err := c.hooks.writeErr(); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	c.txs.Add(1)
	return nil
}

// sortedKeys returns batch's keys in primary key order. Writing in that order
// makes neighbouring rows share pages of the table and of the per-class
// indexes, which made flushes of 10,000 random keys a third faster.
func (c *Catalog) sortedKeys(batch map[Key]pending) []Key {
	keys := c.keys[:0]
	for k := range batch {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	if cap(keys) <= maxSpare {
		c.keys = keys
	}
	return keys
}

// compareKeys orders keys by class, then ID: the order of the primary key
// (the hex form of IDs sorts as their bytes do).
func compareKeys(a, b Key) int {
	return cmp.Or(cmp.Compare(a.Class, b.Class), bytes.Compare(a.ID[:], b.ID[:]))
}

// runJob runs j in its own transaction.
func (c *Catalog) runJob(j *job) (err error) {
	if err := j.ctx.Err(); err != nil {
		return err
	}
	tx, err := c.db.BeginTx(j.ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := j.run(j.ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// report logs the first failure of a run of failed flushes, and the recovery,
// rather than every retry.
func (c *Catalog) report(err error, changes int) {
	switch {
	case err != nil && !c.failing:
		c.cfg.Logger.Error("catalog: flush failed; retrying every FlushInterval",
			"path", c.cfg.Path, "changes", changes, "err", err)
	case err == nil && c.failing:
		c.cfg.Logger.Info("catalog: flush recovered", "path", c.cfg.Path)
	}
	c.failing = err != nil
}
