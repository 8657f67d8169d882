package catalog

import (
	"context"
	"fmt"
	"time"
)

// Update is a lazy change to one entry. A zero field keeps the stored value:
// Name "" never overwrites a known name, and Size is written only with
// SetSize. An Update of a key with no row creates the row, with Created now
// if the Update has none.
type Update struct {
	Key
	// Name is the name the object was addressed by; "" keeps the stored one.
	Name string
	// Created is when the object's storage was created; zero keeps.
	Created time.Time
	// LastActive is the time of its last event; zero keeps.
	LastActive time.Time
	// Size is the size of its storage in bytes, written only if SetSize is
	// true. A flag rather than a sentinel value, so that an Update that does
	// not know the size cannot zero it by omission.
	Size    int64
	SetSize bool
	// Wake, if not nil, sets NextWake and Timers, even to none
	// (Wake{At: zero}). Nil keeps both. A lazy Wake should only move the
	// wake later: an earlier one must be recorded with [Catalog.SetWake]
	// first, since a crash may lose a lazy change.
	Wake *Wake
}

// Wake is the next time an object must be woken and its number of pending
// timers. A zero At means none.
type Wake struct {
	At     time.Time
	Timers int
}

// wakeMode says how a pending change sets next_wake and timers.
type wakeMode uint8

// The values are the ?9 parameter of upsertSQL.
const (
	wakeKeep  wakeMode = iota // keep both
	wakeSet                   // set both
	wakeLower                 // next_wake = the earlier of the stored one and wakeAt; timers at least 1
)

// pending is the merged effect of the changes to one key since the writer
// last took them: an optional delete of the stored row, then an optional
// upsert of the fields it sets.
type pending struct {
	removed    bool // delete the stored row first
	upsert     bool // then create or update the row
	setSize    bool
	wake       wakeMode
	timers     int
	name       string
	created    int64 // Unix ms; 0 keeps, or means now on insert
	lastActive int64 // Unix ms; 0 keeps
	size       int64
	wakeAt     int64 // Unix ms
}

// columns returns the indexed columns that p assigns when the row exists.
func (p *pending) columns() columnSet {
	var set columnSet
	if p.created != 0 {
		set |= setCreated
	}
	if p.lastActive != 0 {
		set |= setActive
	}
	if p.setSize {
		set |= setSize
	}
	if p.wake != wakeKeep {
		set |= setWake
	}
	return set
}

// update merges u, which comes after everything already in p.
func (p *pending) update(u *Update) {
	p.upsert = true
	if u.Name != "" {
		p.name = u.Name
	}
	if !u.Created.IsZero() {
		p.created = u.Created.UnixMilli()
	}
	if !u.LastActive.IsZero() {
		p.lastActive = u.LastActive.UnixMilli()
	}
	if u.SetSize {
		p.setSize, p.size = true, u.Size
	}
	if u.Wake != nil {
		p.wake, p.wakeAt, p.timers = wakeSet, wakeMS(u.Wake.At), u.Wake.Timers
	}
}

// lower merges a SetWake(at), which comes after everything already in p.
func (p *pending) lower(at int64) {
	p.upsert = true
	switch p.wake {
	case wakeKeep:
		p.wake, p.wakeAt, p.timers = wakeLower, at, 1
	case wakeLower:
		p.wakeAt = min(p.wakeAt, at)
	case wakeSet:
		if p.wakeAt == 0 || at < p.wakeAt {
			p.wakeAt = at
		}
		p.timers = max(p.timers, 1)
	}
}

// then merges q, which came after p, into p.
func (p *pending) then(q pending) {
	if q.removed {
		*p = q
		return
	}
	if !q.upsert {
		return
	}
	u := Update{Name: q.name, Created: fromMS(q.created), LastActive: fromMS(q.lastActive), Size: q.size, SetSize: q.setSize}
	if q.wake == wakeSet {
		u.Wake = &Wake{At: fromMS(q.wakeAt), Timers: q.timers}
	}
	p.update(&u)
	if q.wake == wakeLower {
		p.lower(q.wakeAt)
	}
}

// applyTo returns the entry that writing p over e (found tells whether the
// row exists) would store, the way upsertSQL and deleteSQL do.
func (p *pending) applyTo(k Key, e Entry, found bool, now time.Time) (Entry, bool) {
	if p.removed {
		e, found = Entry{}, false
	}
	if !p.upsert {
		return e, found
	}
	if !found {
		e = Entry{Class: k.Class, ID: k.ID, Created: now.Truncate(time.Millisecond)}
	}
	if p.name != "" {
		e.Name = p.name
	}
	if p.created != 0 {
		e.Created = fromMS(p.created)
	}
	if p.lastActive != 0 {
		e.LastActive = fromMS(p.lastActive)
	}
	if p.setSize {
		e.Size = p.size
	}
	switch p.wake {
	case wakeSet:
		e.NextWake, e.Timers = fromMS(p.wakeAt), p.timers
	case wakeLower:
		if at := fromMS(p.wakeAt); e.NextWake.IsZero() || at.Before(e.NextWake) {
			e.NextWake = at
		}
		e.Timers = max(e.Timers, 1)
	}
	return e, true
}

// Update merges u into the pending changes; the writer writes it within
// [Config.FlushInterval], on Flush and on Close. Later changes to a key win
// field by field. Update never waits for I/O. Updates after Close are
// dropped.
func (c *Catalog) Update(u Update) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	p := c.pending[u.Key]
	p.update(&u)
	c.pending[u.Key] = p
}

// Remove deletes k's row lazily, like Update. It is ordered with the Updates
// of k: an Update after a Remove creates the row again.
func (c *Catalog) Remove(k Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.pending[k] = pending{removed: true}
}

// SetWake durably records that k must be woken at or before at: NextWake
// becomes at unless the row already holds an earlier wake, and Timers becomes
// at least 1. A missing row is created with Created now. SetWake returns once
// a transaction holding the change has committed (fsync'd with Synchronous
// "full"); every SetWake waiting at that moment shares that transaction.
//
// If ctx ends first, SetWake returns its error, but the change stays pending
// and is written with the next flush. If the flush fails, SetWake returns its
// error and the change stays pending for the writer's retry.
func (c *Catalog) SetWake(ctx context.Context, k Key, at time.Time) error {
	return c.setWake(ctx, k, at, true)
}

// SetWakeOfNew is SetWake for an object whose storage was created since
// its last Update: unless a removal of k is pending or being written, no
// row of k is durable (a removal always precedes a new object, and after a
// crash Reconcile deletes the rows of objects whose files are gone), so a
// crash before the next flush loses the wake together with the whole row,
// and Reconcile then reads the object's timers from its storage. So the
// wake is only queued, like an Update, and SetWakeOfNew returns at once;
// with a removal of k not yet written it waits as SetWake does.
func (c *Catalog) SetWakeOfNew(ctx context.Context, k Key, at time.Time) error {
	return c.setWake(ctx, k, at, false)
}

func (c *Catalog) setWake(ctx context.Context, k Key, at time.Time, durable bool) error {
	if at.IsZero() {
		return fmt.Errorf("catalog: set wake %s: %w: zero time", k, ErrBadOptions)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("catalog: set wake %s: %w", k, ErrClosed)
	}
	durable = durable || c.pending[k].removed || c.inflight[k].removed
	p := c.pending[k]
	p.lower(wakeMS(at))
	c.pending[k] = p
	var r *round
	if durable {
		r = c.join()
	}
	c.mu.Unlock()
	if r == nil {
		return nil
	}
	if err := c.wait(ctx, r); err != nil {
		return fmt.Errorf("catalog: set wake %s: %w", k, err)
	}
	return nil
}

// toMS is t in Unix milliseconds, 0 for the zero time.
func toMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// wakeMS is toMS for a wake time: a time at or before 1970 becomes 1 ms
// after, since 0 means no wake, and a wake in the past is due at once.
func wakeMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixMilli(), 1)
}

// fromMS is the inverse of toMS.
func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
