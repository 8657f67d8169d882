package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/roost-dev/roost/internal/ids"
)

// columns are the columns of an [Entry], in scanEntry's order.
const columns = `class, id, name, created, last_active, size, next_wake, timers`

// scanEntry reads a row of columns.
func scanEntry(s interface{ Scan(...any) error }) (Entry, error) {
	var (
		e                     Entry
		id                    string
		created, active, wake int64
	)
	if err := s.Scan(&e.Class, &id, &e.Name, &created, &active, &e.Size, &wake, &e.Timers); err != nil {
		return Entry{}, err
	}
	var err error
	if e.ID, err = ids.Parse(id); err != nil {
		return Entry{}, fmt.Errorf("row of class %q: %w", e.Class, err)
	}
	e.Created, e.LastActive, e.NextWake = fromMS(created), fromMS(active), fromMS(wake)
	return e, nil
}

// Get returns k's entry and whether it exists, with every change made before
// the call, written or still pending.
func (c *Catalog) Get(ctx context.Context, k Key) (Entry, bool, error) {
	// The pending changes are copied before the row is read. If a flush
	// commits them in between, applying them again yields the same entry:
	// every change sets values, none adds to them.
	c.mu.Lock()
	in, inOK := c.inflight[k]
	p, pOK := c.pending[k]
	c.mu.Unlock()
	e, err := scanEntry(c.rdb.QueryRowContext(ctx, `SELECT `+columns+` FROM objects WHERE class = ?1 AND id = ?2`,
		k.Class, k.ID.String()))
	found := err == nil
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("catalog: get %s: %w", k, err)
	}
	now := c.cfg.Clock.Now()
	if inOK {
		e, found = in.applyTo(k, e, found, now)
	}
	if pOK {
		e, found = p.applyTo(k, e, found, now)
	}
	return e, found, nil
}

// Wakes calls fn with every object that has a pending wake, in no particular
// order, and stops at fn's first error, which it returns as is. It reads the
// committed rows: a lazy change not yet flushed is not seen, while every
// SetWake that returned is.
func (c *Catalog) Wakes(ctx context.Context, fn func(k Key, at time.Time) error) error {
	rows, err := c.rdb.QueryContext(ctx, `SELECT class, id, next_wake FROM objects WHERE next_wake > 0`)
	if err != nil {
		return fmt.Errorf("catalog: wakes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k    Key
			id   string
			atMS int64
		)
		if err := rows.Scan(&k.Class, &id, &atMS); err != nil {
			return fmt.Errorf("catalog: wakes: %w", err)
		}
		if k.ID, err = ids.Parse(id); err != nil {
			return fmt.Errorf("catalog: wakes: row of class %q: %w", k.Class, err)
		}
		if err := fn(k, fromMS(atMS)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catalog: wakes: %w", err)
	}
	return nil
}

// Count returns the number of objects of each class that has any. Like List,
// it reads the committed rows.
func (c *Catalog) Count(ctx context.Context) (map[string]int, error) {
	rows, err := c.rdb.QueryContext(ctx, `SELECT class, count(*) FROM objects GROUP BY class`)
	if err != nil {
		return nil, fmt.Errorf("catalog: count: %w", err)
	}
	defer rows.Close()
	counts := make(map[string]int)
	for rows.Next() {
		var (
			class string
			n     int
		)
		if err := rows.Scan(&class, &n); err != nil {
			return nil, fmt.Errorf("catalog: count: %w", err)
		}
		counts[class] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: count: %w", err)
	}
	return counts, nil
}
