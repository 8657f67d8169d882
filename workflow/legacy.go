package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/roost-dev/roost"
)

// Before partitions (see partition.go), each standalone instance was an
// object of its own, of class "wf-<name>" named by the instance ID: its
// keys under "workflow/" (the layout of journal.go), its own state in any
// other key, its alarm as its wake. Data directories of that layout keep
// working: such an instance moves into its partition the first time it is
// touched (an operation, a resumption, its alarm), and a background pass
// started by Define moves every one of them. A move copies the instance
// into its partition in the partition's event, unless the partition has it
// already (a move that a crash cut short), and then removes the old object.
// SQL tables a step created in an old instance's database do not move:
// steps of standalone instances have a KV store only (hosted ones have
// their host's SQL).

// legacyPrefix starts the engine's keys in an old instance object.
const legacyPrefix = "workflow/"

// object is an old instance object. Its alarm moves it.
type object struct {
	st  *roost.State
	def *definition
}

// Alarm moves the instance into its partition, where its wake is due now.
func (o *object) Alarm(ctx context.Context, _ roost.AlarmInfo) error {
	d := o.def
	d.migrating.Lock()
	defer d.migrating.Unlock()
	old, err := readLegacy(ctx, o.st.Storage())
	if err != nil || old == nil {
		return err
	}
	old.wake = d.e.clock.Now() // the alarm that fires was its wake
	if err := d.e.adopt(ctx, d, old); err != nil {
		return err
	}
	return o.st.Storage().DeleteAll(ctx)
}

// legacyInstance is an old instance object's content, ready for its
// partition.
type legacyInstance struct {
	id      string
	status  string
	entries []roost.Entry // keys relative to the instance's prefix
	wake    time.Time     // zero: none
}

// readLegacy reads the old instance object whose storage is st, or returns
// nil if it holds none.
func readLegacy(ctx context.Context, st *roost.Storage) (*legacyInstance, error) {
	raw, ok, err := st.Get(ctx, legacyPrefix+metaKey)
	if err != nil || !ok {
		return nil, err
	}
	var m meta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("workflow: an old instance's record: %w", err)
	}
	all, err := st.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	old := &legacyInstance{id: m.ID, status: m.Status, entries: make([]roost.Entry, 0, len(all))}
	for _, en := range all {
		if rel, ok := strings.CutPrefix(en.Key, legacyPrefix); ok {
			en.Key = rel
		} else {
			en.Key = kvPrefix + en.Key
		}
		old.entries = append(old.entries, en)
	}
	if at, ok, err := st.GetAlarm(ctx); err != nil {
		return nil, err
	} else if ok {
		old.wake = at
	}
	return old, nil
}

// adopt writes the old instance into its partition, unless it is there.
func (e *Engine) adopt(ctx context.Context, d *definition, old *legacyInstance) error {
	if err := checkID(old.id); err != nil {
		return fmt.Errorf("workflow %s: an old instance: %w", d.name, err)
	}
	return e.do(ctx, d.standalone(old.id), func(ctx context.Context, p place) error {
		if _, ok, err := p.journal().meta(ctx); err != nil || ok {
			return err
		}
		entries := make([]roost.Entry, len(old.entries))
		for i, en := range old.entries {
			entries[i] = roost.Entry{Key: p.h.prefix + en.Key, Value: en.Value}
		}
		if err := p.st.PutMany(ctx, entries); err != nil {
			return err
		}
		if !old.wake.IsZero() {
			if err := p.setWake(ctx, old.wake); err != nil {
				return err
			}
		}
		if !finished(old.status) {
			return e.markLive(ctx, p)
		}
		return nil
	})
}

// migrate moves the old instance id of d into its partition, if there
// is one.
func (e *Engine) migrate(ctx context.Context, d *definition, id string) error {
	if !d.legacy.Load() {
		return nil
	}
	moved, err := e.migrateStub(ctx, d, d.ns.GetByName(id))
	if moved != "" {
		e.check(d, moved) // into the index, and running again if it ran
	}
	return err
}

// migrateStub moves the old instance object of stub into its partition,
// and returns the instance's ID ("" if the object holds none).
func (e *Engine) migrateStub(ctx context.Context, d *definition, stub *roost.Stub) (string, error) {
	d.migrating.Lock()
	defer d.migrating.Unlock()
	var old *legacyInstance
	err := roost.Do(ctx, stub, func(ctx context.Context, o *object) (err error) {
		old, err = readLegacy(ctx, o.st.Storage())
		return err
	})
	if notOwner(err) {
		return "", nil // its owner moves it
	}
	if err != nil || old == nil {
		return "", err
	}
	if err := e.adopt(ctx, d, old); err != nil {
		return "", err
	}
	return old.id, roost.Do(ctx, stub, func(ctx context.Context, o *object) error {
		return o.st.Storage().DeleteAll(ctx)
	})
}

// migrateAll moves every old instance of d into its partition, in the
// background, and resumes those that run; then lookups stop looking for
// old objects. Define starts it if this node has old objects of d.
func (e *Engine) migrateAll(d *definition) {
	opts := roost.ListObjectsOptions{Class: d.ns.Class(), Limit: 1}
	page, err := e.app.Admin().List(e.ctx, opts)
	if err != nil || len(page.Objects) == 0 {
		if err != nil {
			e.log.Warn("workflow: cannot look for instances of the old layout", "workflow", d.name, "err", err)
		}
		return
	}
	d.legacy.Store(true)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return
	}
	e.wg.Add(1)
	busy := e.app.Busy()
	go func() {
		defer e.wg.Done()
		defer busy()
		start, moved := e.clock.Now(), 0
		opts.Limit = 100
		for {
			page, err := e.app.Admin().List(e.ctx, opts)
			if err == nil {
				for _, o := range page.Objects {
					var id string
					if id, err = e.migrateStub(e.ctx, d, d.ns.Get(o.ID)); err != nil {
						break
					}
					if id != "" {
						e.check(d, id) // into the index, and running again if it ran
						moved++
					}
				}
			}
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					e.log.Warn("workflow: moving instances into partitions stopped; the next start goes on", "workflow", d.name, "moved", moved, "err", err)
				}
				return
			}
			if page.Next == "" {
				break
			}
			opts.Cursor = page.Next
		}
		e.log.Info("workflow: instances moved into partitions", "workflow", d.name, "instances", moved, "took", e.clock.Now().Sub(start))
		// Pages moved on by cursor while objects were removed: look again
		// from the start once, and stop looking for old objects after it.
		if page, err := e.app.Admin().List(e.ctx, roost.ListObjectsOptions{Class: d.ns.Class(), Limit: 1}); err == nil && len(page.Objects) == 0 {
			d.legacy.Store(false)
		}
	}()
}
