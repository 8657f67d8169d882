package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"time"

	"github.com/roost-dev/roost/internal/ids"
)

// timersSchema holds an object's alarm, named timers and cron schedules.
// The alarm is the row whose name is empty.
const timersSchema = `CREATE TABLE _roost_timers (
	name TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	due INTEGER NOT NULL,
	scheduled INTEGER NOT NULL,
	spec TEXT NOT NULL DEFAULT '',
	payload BLOB,
	attempt INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX _roost_timers_due ON _roost_timers (due)`

// Timer is one row of an object's timers: its alarm (Name ""), a named
// one-shot timer, or a cron schedule.
type Timer struct {
	Name string
	// Kind is "alarm", "timer" or "cron"; the store keeps it as given.
	Kind string
	// Due is when the timer fires next: its scheduled time, or later while
	// a failed fire waits for its retry.
	Due time.Time
	// Scheduled is the time the pending fire was scheduled for; with Name
	// it identifies the fire across retries.
	Scheduled time.Time
	// Spec is a cron schedule's expression.
	Spec    string
	Payload []byte
	// Attempt counts the failed runs of the pending fire.
	Attempt int
}

// TimerIndex hears of commits that change an object's timers, so that a
// node-level index can wake objects that are not in memory. next is the
// earliest due time (zero: none), count the number of timers.
type TimerIndex interface {
	// Prepare runs before the commit, inside it: an error fails the commit.
	// An index must make next durable here if it is earlier than what it
	// holds: otherwise a crash right after the commit could lose the wake.
	// created tells that the commit creates the object's storage: an index
	// that finds such objects after a crash need not wait.
	Prepare(class string, id ids.ID, next time.Time, created bool) error
	// Committed runs after the commit, in commit order per object.
	Committed(class string, id ids.ID, next time.Time, count int)
}

// SetTimer creates or replaces the timer of t.Name.
func (db *DB) SetTimer(ctx context.Context, t Timer) error {
	defer db.lock(ctx)()
	done, err := db.writable(ctx)
	if err != nil {
		return err
	}
	return done(db.setTimerLocked(t))
}

func (db *DB) setTimerLocked(t Timer) error {
	if err := db.ensureTimersLocked(); err != nil {
		return err
	}
	st, err := db.stmt(`INSERT OR REPLACE INTO _roost_timers (name, kind, due, scheduled, spec, payload, attempt) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	payload := t.Payload
	if payload == nil {
		payload = []byte{}
	}
	_, err = st.Exec([]driver.Value{t.Name, t.Kind, t.Due.UnixMilli(), t.Scheduled.UnixMilli(), t.Spec, payload, int64(t.Attempt)})
	if err != nil {
		return db.wrap("set timer", err)
	}
	db.timersChanged = true
	return nil
}

// DeleteTimer removes the timer of that name and reports whether there was
// one.
func (db *DB) DeleteTimer(ctx context.Context, name string) (bool, error) {
	defer db.lock(ctx)()
	if ok, err := db.readable(ctx); !ok || err != nil {
		return false, err
	}
	if !db.hasTimersLocked() {
		return false, nil
	}
	done, err := db.writable(ctx)
	if err != nil {
		return false, err
	}
	st, err := db.stmt(`DELETE FROM _roost_timers WHERE name = ?`)
	if err != nil {
		return false, done(err)
	}
	res, err := st.Exec([]driver.Value{name})
	if err != nil {
		return false, done(db.wrap("delete timer", err))
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		db.timersChanged = true
	}
	return n > 0, done(nil)
}

// Timer returns the timer of that name.
func (db *DB) Timer(ctx context.Context, name string) (Timer, bool, error) {
	ts, err := db.queryTimers(ctx, `SELECT name, kind, due, scheduled, spec, payload, attempt FROM _roost_timers WHERE name = ?`, name)
	if err != nil || len(ts) == 0 {
		return Timer{}, false, err
	}
	return ts[0], true, nil
}

// Timers returns every timer, earliest due first.
func (db *DB) Timers(ctx context.Context) ([]Timer, error) {
	return db.queryTimers(ctx, `SELECT name, kind, due, scheduled, spec, payload, attempt FROM _roost_timers ORDER BY due, name`)
}

// DueTimer returns the timer with the earliest due time if it is at or
// before now.
func (db *DB) DueTimer(ctx context.Context, now time.Time) (Timer, bool, error) {
	ts, err := db.queryTimers(ctx, `SELECT name, kind, due, scheduled, spec, payload, attempt FROM _roost_timers WHERE due <= ? ORDER BY due, name LIMIT 1`, now.UnixMilli())
	if err != nil || len(ts) == 0 {
		return Timer{}, false, err
	}
	return ts[0], true, nil
}

// NextTimer returns the earliest due time (zero: no timer) and the number
// of timers.
func (db *DB) NextTimer(ctx context.Context) (time.Time, int, error) {
	defer db.lock(ctx)()
	if ok, err := db.readable(ctx); !ok || err != nil {
		return time.Time{}, 0, err
	}
	next, n, err := db.nextTimerLocked()
	return next, n, err
}

func (db *DB) queryTimers(ctx context.Context, query string, args ...any) ([]Timer, error) {
	defer db.lock(ctx)()
	if ok, err := db.readable(ctx); !ok || err != nil {
		return nil, err
	}
	if !db.hasTimersLocked() {
		return nil, nil
	}
	st, err := db.stmt(query)
	if err != nil {
		return nil, err
	}
	vals := make([]driver.Value, len(args))
	for i, a := range args {
		vals[i] = a
	}
	rows, err := st.Query(vals)
	if err != nil {
		return nil, db.wrap("read timers", err)
	}
	defer rows.Close()
	var out []Timer
	v := make([]driver.Value, 7)
	for {
		if err := rows.Next(v); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, db.wrap("read timers", err)
		}
		t := Timer{}
		t.Name, _ = v[0].(string)
		t.Kind, _ = v[1].(string)
		due, _ := v[2].(int64)
		sched, _ := v[3].(int64)
		t.Due, t.Scheduled = time.UnixMilli(due), time.UnixMilli(sched)
		t.Spec, _ = v[4].(string)
		if b, ok := v[5].([]byte); ok {
			t.Payload = append([]byte(nil), b...)
		}
		attempt, _ := v[6].(int64)
		t.Attempt = int(attempt)
		out = append(out, t)
	}
}

// hasTimersLocked reports whether the file has the timers table (files
// made by older versions may not).
func (db *DB) hasTimersLocked() bool {
	if db.timers == 0 && db.conn != nil {
		db.timers = 1
		rows, err := db.conn.Query(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_roost_timers'`, nil)
		if err == nil {
			if rows.Next(make([]driver.Value, 1)) == nil {
				db.timers = 2
			}
			rows.Close()
		}
	}
	return db.timers == 2
}

// ensureTimersLocked creates the timers table if the file lacks it.
func (db *DB) ensureTimersLocked() error {
	if db.hasTimersLocked() {
		return nil
	}
	if err := db.execLocked(timersSchema); err != nil {
		return err
	}
	db.timers = 2
	return nil
}

func (db *DB) nextTimerLocked() (time.Time, int, error) {
	if !db.hasTimersLocked() {
		return time.Time{}, 0, nil
	}
	rows, err := db.conn.Query(`SELECT min(due), count(*) FROM _roost_timers`, nil)
	if err != nil {
		return time.Time{}, 0, db.wrap("read timers", err)
	}
	defer rows.Close()
	v := make([]driver.Value, 2)
	if err := rows.Next(v); err != nil {
		return time.Time{}, 0, db.wrap("read timers", err)
	}
	n, _ := v[1].(int64)
	due, ok := v[0].(int64)
	if !ok {
		return time.Time{}, 0, nil
	}
	return time.UnixMilli(due), int(n), nil
}

func (db *DB) timerCountLocked() int {
	_, n, _ := db.nextTimerLocked()
	return n
}

// clearTimersLocked deletes every timer (DeleteAll).
func (db *DB) clearTimersLocked() error {
	if !db.hasTimersLocked() {
		return nil
	}
	if err := db.execLocked(`DELETE FROM _roost_timers`); err != nil {
		return err
	}
	db.timersChanged = true
	return nil
}

// prepareTimersLocked tells the index about a commit that changed the
// timers, before it happens; the returned function tells it after.
func (db *DB) prepareTimersLocked() (notify func(), err error) {
	idx := db.s.cfg.Timers
	if !db.timersChanged || idx == nil {
		return func() {}, nil
	}
	db.timersChanged = false
	next, n, err := db.nextTimerLocked()
	if err != nil {
		return nil, err
	}
	if err := idx.Prepare(db.class, db.id, next, db.created); err != nil {
		return nil, db.wrap("index timers", err)
	}
	return func() { idx.Committed(db.class, db.id, next, n) }, nil
}

// DueTimers returns up to limit timers whose due time is at or before now,
// earliest first.
func (db *DB) DueTimers(ctx context.Context, now time.Time, limit int) ([]Timer, error) {
	return db.queryTimers(ctx, `SELECT name, kind, due, scheduled, spec, payload, attempt FROM _roost_timers WHERE due <= ? ORDER BY due, name LIMIT ?`, now.UnixMilli(), int64(limit))
}
