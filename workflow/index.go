package workflow

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/errcode"
)

// The index lists the instances of each workflow by status, for paging:
// one object of class "workflow-index" per workflow, named by it, with a table
// of its instances. Instances report their status changes to it after they
// commit, in batches (one event per batch), so it may lag a moment behind
// them, and a crash may lose the last reports. A clean close marks each
// index complete; a start without the mark (after a crash) asks the
// instances active since the index's last write for their status, in the
// background (see resume).
type index struct {
	e  *Engine
	ns *roost.Namespace

	// ctx is the flusher's writes' context: canceled when the engine
	// closes, at once if it gives up on a graceful close.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	pending map[string]map[string]entry // by workflow, by instance ID
	ended   map[string][]entry          // by workflow: ends written, their live marks to drop
	kick    chan struct{}               // a report is pending
	stop    chan struct{}               // closed by close or abort
	done    chan struct{}               // closed when the flusher ended
}

// entry is an instance's row in the index.
type entry struct {
	ID      string
	Status  string
	Created time.Time
	Updated time.Time
}

// indexClass is the class of the index objects.
const indexClass = "workflow-index"

const indexSchema = `
CREATE TABLE IF NOT EXISTS instances (
	id      TEXT PRIMARY KEY,
	status  TEXT NOT NULL,
	created INTEGER NOT NULL,
	updated INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS instances_by_status ON instances (status, id);`

type indexObject struct {
	st *roost.State
	ix *index
}

// newIndex registers the index's class; start starts its flusher.
func newIndex(e *Engine) *index {
	ctx, cancel := context.WithCancel(context.Background())
	ix := &index{e: e, ctx: ctx, cancel: cancel, pending: map[string]map[string]entry{}, ended: map[string][]entry{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	ix.ns = roost.RegisterWithOptions(e.app, indexClass, func(st *roost.State) (*indexObject, error) {
		err := st.BlockConcurrencyWhile(st.Context(), func(ctx context.Context) error {
			_, err := st.Storage().Exec(ctx, indexSchema+expiredSchema)
			return err
		})
		return &indexObject{st: st, ix: ix}, err
	}, &roost.ClassOptions{Methods: []roost.MethodHandler{indexWrite, indexList}})
	return ix
}

// start starts the flusher; close or abort stops it and waits for it.
func (ix *index) start() { go ix.flusher() }

// reportAt reports the status of the instance at home h to the index,
// unless it is hosted: the index lists standalone instances only.
func (e *Engine) reportAt(d *definition, h *home, m *meta) {
	if !h.hosted {
		e.report(d, m)
	}
}

// report queues an instance's status for the index.
func (e *Engine) report(d *definition, m *meta) {
	ix := e.index
	ix.mu.Lock()
	p := ix.pending[d.name]
	if p == nil {
		p = map[string]entry{}
		ix.pending[d.name] = p
	}
	if old, ok := p[m.ID]; !ok || !m.Updated.Before(old.Updated) {
		p[m.ID] = entry{ID: m.ID, Status: m.Status, Created: m.Created, Updated: m.Updated}
	}
	ix.mu.Unlock()
	select {
	case ix.kick <- struct{}{}:
	default:
	}
}

// take removes and returns the pending entries of workflow.
func (ix *index) take(workflow string) []entry {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	p := ix.pending[workflow]
	delete(ix.pending, workflow)
	out := make([]entry, 0, len(p))
	for _, en := range p {
		out = append(out, en)
	}
	return out
}

// indexFlushGap is the least time between two writes of the index: the
// reports of that time are written together, in one commit, however few
// instances run. (A listing writes what is pending first, so it never
// misses them.)
const indexFlushGap = 50 * time.Millisecond

// flusher writes the pending reports until close, and those pending then;
// while it writes a batch, and for indexFlushGap after, the next one
// gathers.
func (ix *index) flusher() {
	defer close(ix.done)
	gap := time.NewTimer(0)
	defer gap.Stop()
	for {
		select {
		case <-ix.kick:
		case <-ix.stop:
			ix.round(ix.ctx)
			return
		}
		ix.round(ix.ctx)
		gap.Reset(indexFlushGap)
		select {
		case <-gap.C:
		case <-ix.stop:
			ix.round(ix.ctx)
			return
		}
	}
}

// requeue puts back entries whose write failed, unless newer ones came.
func (ix *index) requeue(workflow string, entries []entry) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	p := ix.pending[workflow]
	if p == nil {
		p = map[string]entry{}
		ix.pending[workflow] = p
	}
	for _, en := range entries {
		if old, ok := p[en.ID]; !ok || old.Updated.Before(en.Updated) {
			p[en.ID] = en
		}
	}
}

// round is one round of the flusher: it writes the pending reports, then
// drops the live marks of the ends written.
func (ix *index) round(ctx context.Context) {
	ix.flush(ctx)
	ix.settleEnded(ctx)
}

// flush writes the pending reports of every workflow.
func (ix *index) flush(ctx context.Context) {
	ix.mu.Lock()
	names := slices.Collect(maps.Keys(ix.pending))
	ix.mu.Unlock()
	for _, name := range names {
		if ctx.Err() != nil {
			return // aborted: the next start checks the instances
		}
		var entries []entry
		stub := ix.ns.GetByName(name)
		err := roost.Do(ctx, stub, func(ctx context.Context, o *indexObject) (err error) {
			entries, err = ix.writePending(ctx, o, name)
			return err
		})
		if notOwner(err) { // in cluster mode, another node owns the index
			entries = ix.take(name)
			_, err = indexWrite.Call(ctx, stub, entries)
		}
		if err != nil {
			// Kept for the next flush; a crash before it is repaired by the
			// startup check (see reconcile).
			if ctx.Err() == nil {
				ix.e.log.Warn("workflow: cannot update the index; it is tried again", "workflow", name, "err", err)
			}
			ix.requeue(name, entries)
			continue
		}
		ix.wrote(name, entries)
	}
}

// wrote notes the reports that reached the index of workflow: the live
// marks of the instances that ended go (see settle) at the flusher's next
// round.
func (ix *index) wrote(workflow string, entries []entry) {
	if ix.e.clustered {
		return
	}
	ix.mu.Lock()
	for _, en := range entries {
		if finished(en.Status) {
			ix.ended[workflow] = append(ix.ended[workflow], en)
		}
	}
	ix.mu.Unlock()
	select {
	case ix.kick <- struct{}{}:
	default:
	}
}

// settleEnded drops the live marks of the instances whose ends reached the
// index.
func (ix *index) settleEnded(ctx context.Context) {
	ix.mu.Lock()
	ended := ix.ended
	ix.ended = map[string][]entry{}
	ix.mu.Unlock()
	for name, entries := range ended {
		if d, err := ix.e.definition(name); err == nil {
			ix.e.settle(ctx, d, entries)
		}
	}
}

// writePending takes workflow's pending reports and writes them to its
// index object o. It runs in o's event, so that takes and writes happen in
// the same order: a stale report never overwrites a newer one. It returns
// the reports taken, for a requeue if the event fails.
func (ix *index) writePending(ctx context.Context, o *indexObject, workflow string) ([]entry, error) {
	entries := ix.take(workflow)
	return entries, o.upsert(ctx, entries)
}

// close stops the flusher after its last flush of the pending reports,
// bounded by ctx: if ctx ends first, the flush is canceled, and close still
// waits for the flusher. The engine calls close or abort once.
func (ix *index) close(ctx context.Context) error {
	defer ix.cancel()
	close(ix.stop)
	select {
	case <-ix.done:
		return nil
	case <-ctx.Done():
		ix.cancel()
		<-ix.done
		return fmt.Errorf("workflow: close the index: %w", ctx.Err())
	}
}

// abort stops the flusher without its last flush, and waits for it: the
// engine gave up on a graceful close, so the index stays incomplete, not
// marked clean, and the next start checks the instances (see resume).
func (ix *index) abort() {
	ix.cancel()
	close(ix.stop)
	<-ix.done
}

func (o *indexObject) upsert(ctx context.Context, entries []entry) error {
	if len(entries) == 0 {
		return nil
	}
	st := o.st.Storage()
	for len(entries) > 0 {
		chunk := entries[:min(len(entries), upsertChunk)]
		entries = entries[len(chunk):]
		args := make([]any, 0, 4*len(chunk))
		for _, en := range chunk {
			args = append(args, en.ID, en.Status, en.Created.UnixMilli(), en.Updated.UnixMilli())
		}
		q := `INSERT INTO instances (id, status, created, updated) VALUES (?, ?, ?, ?)` +
			strings.Repeat(`, (?, ?, ?, ?)`, len(chunk)-1) + `
			ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated = excluded.updated
			WHERE excluded.updated >= instances.updated`
		if _, err := st.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("workflow: index %d instances from %s: %w", len(chunk), chunk[0].ID, err)
		}
	}
	return nil
}

// upsertChunk is how many rows one statement of upsert writes: a statement
// per chunk, not per row, since preparing one costs more than its rows.
const upsertChunk = 200

// Summary is an instance in a listing.
type Summary struct {
	ID      string    `json:"id"`
	Status  string    `json:"status"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Page is a page of a listing; Cursor, if not empty, gets the next one.
type Page struct {
	Instances []Summary `json:"instances"`
	Cursor    string    `json:"cursor,omitempty"`
}

// ListOptions filter and page a listing.
type ListOptions struct {
	// Status keeps the instances in that status; empty keeps all.
	Status string
	// Cursor continues a listing from a previous Page.
	Cursor string
	// Limit is the page size: default 100, at most 1,000.
	Limit int
}

var statuses = []string{StatusQueued, StatusRunning, StatusSleeping, StatusWaiting, StatusPaused, StatusComplete, StatusErrored, StatusTerminated}

// List lists the instances of the workflow by ID, from the node's index:
// reports of the latest changes are written first, so a listing sees every
// change made before it.
func (e *Engine) List(ctx context.Context, workflow string, opts ListOptions) (*Page, error) {
	if _, err := e.definition(workflow); err != nil {
		return nil, err
	}
	if opts.Status != "" && !slices.Contains(statuses, opts.Status) {
		return nil, errcode.New(errcode.BadRequest, "status %q: want one of %v", opts.Status, statuses)
	}
	switch {
	case opts.Limit == 0:
		opts.Limit = 100
	case opts.Limit < 0 || opts.Limit > 1000:
		return nil, errcode.New(errcode.BadRequest, "limit %d: want 1 to 1000", opts.Limit)
	}
	after := ""
	if opts.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(opts.Cursor)
		if err != nil || checkID(string(b)) != nil {
			return nil, errcode.New(errcode.BadRequest, "malformed cursor %q", opts.Cursor)
		}
		after = string(b)
	}
	page := &Page{}
	var pending []entry
	q := listQuery{Status: opts.Status, After: after, Limit: opts.Limit + 1}
	stub := e.index.ns.GetByName(workflow)
	err := roost.Do(ctx, stub, func(ctx context.Context, o *indexObject) (err error) {
		if pending, err = e.index.writePending(ctx, o, workflow); err != nil {
			return err
		}
		page.Instances, err = o.query(ctx, q)
		return err
	})
	if notOwner(err) { // in cluster mode, another node owns the index
		q.Pending = e.index.take(workflow)
		pending = q.Pending
		page.Instances, err = indexList.Call(ctx, stub, q)
	}
	if err != nil {
		e.index.requeue(workflow, pending)
		return nil, err
	}
	e.index.wrote(workflow, pending)
	if len(page.Instances) > opts.Limit {
		page.Instances = page.Instances[:opts.Limit]
		page.Cursor = base64.RawURLEncoding.EncodeToString([]byte(page.Instances[opts.Limit-1].ID))
	}
	return page, nil
}

// cleanKey marks, in a workflow's index object, that the engine closed
// cleanly: every report reached the index.
const cleanKey = "clean"

// markClean records that every report of the engine's workflows reached
// their indexes. Close calls it after the last flush. It skips the
// workflows whose startup check did not succeed: their indexes may still
// miss reports from before, so the next start checks again.
func (e *Engine) markClean(ctx context.Context) error {
	if e.clustered { // never read: see resume
		return nil
	}
	e.mu.Lock()
	var names []string
	for name := range e.defs {
		if !e.unchecked[name] {
			names = append(names, name)
		}
	}
	e.mu.Unlock()
	for _, name := range names {
		if err := roost.Do(ctx, e.index.ns.GetByName(name), func(ctx context.Context, o *indexObject) error {
			return o.st.Storage().Put(ctx, cleanKey, []byte("1"))
		}); err != nil {
			return fmt.Errorf("workflow: mark the index of %s clean: %w", name, err)
		}
	}
	return nil
}

// resume brings d's instances back after a start, in the background: the
// runs of the instances that were running or queued are gone (sleeps,
// waits and retries come back through their timers), and after a crash the
// index may have missed the last reports. After a clean close, it resumes the
// instances the index lists as running or queued; after a crash (or at the
// first start), it first asks the instances of d with a live mark for their
// status, which corrects the index too (see reconcile). In cluster mode it does nothing: the instances' timers
// resume them on their owners, and the index may miss the last reports of
// a node that crashed until the instance changes again.
func (e *Engine) resume(d *definition) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// Defined after Close, nothing runs any more. In cluster mode, every
	// instance that runs has a timer, which resumes it (see Options.Beat).
	if e.closing || e.clustered {
		return
	}
	e.wg.Add(1)
	e.resuming.Add(1)
	e.unchecked[d.name] = true
	busy := e.app.Busy()
	go func() {
		defer e.wg.Done()
		defer e.resuming.Done()
		defer busy()
		clean := false
		err := roost.Do(e.ctx, e.index.ns.GetByName(d.name), func(ctx context.Context, o *indexObject) error {
			_, ok, err := o.st.Storage().Get(ctx, cleanKey)
			if err != nil || !ok {
				return err
			}
			clean = true
			_, err = o.st.Storage().Delete(ctx, cleanKey) // until the next clean close
			return err
		})
		if err == nil && clean {
			err = e.resumeListed(d)
		} else if err == nil {
			_, err = e.reconcile(d)
		}
		switch {
		case err == nil:
			e.mu.Lock()
			delete(e.unchecked, d.name)
			e.mu.Unlock()
		case !errors.Is(err, context.Canceled):
			e.log.Warn("workflow: cannot resume instances at startup; their timers will", "workflow", d.name, "err", err)
		}
	}()
}

// resumeListed pokes the instances the index lists as running or queued.
func (e *Engine) resumeListed(d *definition) error {
	for _, status := range []string{StatusRunning, StatusQueued} {
		opts := ListOptions{Status: status, Limit: 1000}
		for {
			page, err := e.List(e.ctx, d.name, opts)
			if err != nil {
				return err
			}
			for _, s := range page.Instances {
				e.poke(d, s.ID)
			}
			if page.Cursor == "" {
				break
			}
			opts.Cursor = page.Cursor
		}
	}
	return nil
}

// reconcile brings the instances of d back after an unclean stop, which
// may have lost the index's last reports: it checks every instance with a
// live mark (created or restarted, and not known to the index as ended:
// see settle), then resumes those the index lists as running or queued.
func (e *Engine) reconcile(d *definition) (checked int, err error) {
	start := e.clock.Now()
	for k := range partitions {
		err := e.liveIDs(d, k, func(ids []string) {
			for _, id := range ids {
				e.check(d, id)
			}
			checked += len(ids)
		})
		if err != nil {
			return checked, err
		}
	}
	if checked > 0 {
		e.log.Info("workflow: live instances checked at startup (no clean close was recorded: a crash, or a first start)", "workflow", d.name, "instances", checked, "took", e.clock.Now().Sub(start))
	}
	return checked, e.resumeListed(d)
}

// poke moves the standalone instance id into its partition if it is of
// the old layout, then checks it (see check).
func (e *Engine) poke(d *definition, id string) {
	if err := e.migrate(e.ctx, d, id); err == nil {
		e.check(d, id)
	}
}

// check reads the standalone instance id's status, reports it to the
// index, and starts its run if it should run (running or queued) and has
// none.
func (e *Engine) check(d *definition, id string) {
	h := d.standalone(id)
	var m *meta
	err := e.do(e.ctx, h, func(ctx context.Context, p place) error {
		got, ok, err := p.journal().meta(ctx)
		if ok {
			m = got
		}
		return err
	})
	if err != nil || m == nil {
		return
	}
	e.report(d, m)
	if (m.Status == StatusRunning || m.Status == StatusQueued) && !e.isLive(d.name, m.ID) {
		e.startAt(d, h, nil)
	}
}
