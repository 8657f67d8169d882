package roost

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/store"
)

// AlarmHandler is implemented by objects that use the alarm
// ([Storage.SetAlarm]). Alarm runs as an event of its own when the alarm's
// time comes, also if the object was out of memory or the server restarted
// in between. Its writes commit atomically with the alarm's removal. If it
// fails (error, panic), its writes roll back, the instance is reset and the
// alarm is retried with exponential backoff ([Config.TimerRetry]: by default
// after 2 s, 4 s, … up to 6 retries), then dropped. An alarm set during
// Alarm is kept.
type AlarmHandler interface {
	Alarm(ctx context.Context, info AlarmInfo) error
}

// AlarmInfo describes an alarm run, as Cloudflare's alarmInfo does.
type AlarmInfo struct {
	// RetryCount is the number of failed runs before this one.
	RetryCount int
	// IsRetry is RetryCount > 0.
	IsRetry bool
	// Scheduled is the time the alarm was set for.
	Scheduled time.Time
}

// TimerHandler is implemented by objects that use named timers and cron
// schedules ([Storage.Schedule], [Storage.Cron]). Timer runs as an event of
// its own for each fire, with the same at-least-once guarantee and retries
// as [AlarmHandler]: a fire can run more than once (a crash after it ran but
// before its event committed, or a retry), always with the same FireID, so a
// handler with external side effects can deduplicate.
type TimerHandler interface {
	Timer(ctx context.Context, fire TimerFire) error
}

// Timer kinds, in [TimerFire.Kind] and [TimerInfo.Kind].
const (
	TimerOnce = "timer"
	TimerCron = "cron"
)

// TimerFire is one fire of a named timer or cron schedule.
type TimerFire struct {
	// Name is the timer's name.
	Name string
	// Kind is TimerOnce or TimerCron.
	Kind string
	// FireID identifies this fire across retries and re-deliveries:
	// "<name>@<scheduled time, UTC, ms>".
	FireID string
	// Scheduled is the time the fire was due.
	Scheduled time.Time
	// Payload is what the timer was set with.
	Payload []byte
	// Attempt is the number of failed runs of this fire before this one.
	Attempt int
	// Missed counts, for a cron schedule, the later slots that passed while
	// the server was down: they are not delivered one by one; this one fire
	// (for the earliest missed slot) catches up for all of them.
	Missed int
}

// TimerInfo describes a pending named timer or cron schedule.
type TimerInfo struct {
	Name string
	// Kind is TimerOnce or TimerCron.
	Kind string
	// Next is when it fires next (later than its scheduled time while a
	// failed fire waits for its retry).
	Next time.Time
	// Spec is a cron schedule's expression.
	Spec    string
	Payload []byte
	// Attempt counts the failed runs of the pending fire.
	Attempt int
}

// MaxTimerName is the longest timer name, in bytes.
const MaxTimerName = 256

// cronParser accepts the standard five fields, descriptors such as @hourly
// and @every 5m, and a CRON_TZ=Zone prefix (default UTC).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// SetAlarm sets the object's one alarm to at, replacing any alarm it has.
// An alarm in the past fires at once. It commits with the event. The
// object's class must implement [AlarmHandler].
func (s *Storage) SetAlarm(ctx context.Context, at time.Time) error {
	db, err := s.timerDB(ctx, "alarm")
	if err != nil {
		return err
	}
	if at.IsZero() {
		return errcode.New(errcode.BadRequest, "SetAlarm: the time is zero")
	}
	return db.SetTimer(ctx, store.Timer{Kind: "alarm", Due: at, Scheduled: at})
}

// GetAlarm returns the time the alarm is set for, and false if none is set.
func (s *Storage) GetAlarm(ctx context.Context) (time.Time, bool, error) {
	db, err := s.db()
	if err != nil {
		return time.Time{}, false, err
	}
	t, ok, err := db.Timer(ctx, "")
	return t.Scheduled, ok, err
}

// DeleteAlarm removes the alarm, if one is set.
func (s *Storage) DeleteAlarm(ctx context.Context) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	_, err = db.DeleteTimer(ctx, "")
	return err
}

// Schedule sets a named one-shot timer to fire at at with payload,
// replacing any timer or cron schedule of that name. It commits with the
// event: if the event fails, no timer is set. The object's class must
// implement [TimerHandler].
func (s *Storage) Schedule(ctx context.Context, name string, at time.Time, payload []byte) error {
	db, err := s.timerDB(ctx, "timer")
	if err != nil {
		return err
	}
	if err := s.checkTimer(name, payload); err != nil {
		return err
	}
	if at.IsZero() {
		return errcode.New(errcode.BadRequest, "Schedule %q: the time is zero", name)
	}
	return db.SetTimer(ctx, store.Timer{Name: name, Kind: TimerOnce, Due: at, Scheduled: at, Payload: payload})
}

// Cron sets a named cron schedule, replacing any timer or schedule of that
// name: spec is five fields (minute hour day-of-month month day-of-week,
// e.g. "*/5 * * * *"), or a descriptor (@hourly, @daily, @every 90s), in UTC
// unless it starts with CRON_TZ=<zone>. Each slot fires once, at least once;
// slots missed while the server was down are caught up by a single fire
// (see [TimerFire.Missed]). It commits with the event.
func (s *Storage) Cron(ctx context.Context, name, spec string, payload []byte) error {
	db, err := s.timerDB(ctx, "timer")
	if err != nil {
		return err
	}
	if err := s.checkTimer(name, payload); err != nil {
		return err
	}
	sched, err := cronParser.Parse(spec)
	if err != nil {
		return errcode.New(errcode.BadRequest, "Cron %q: bad schedule %q: %v", name, spec, err)
	}
	next := sched.Next(s.app.cfg.Clock.Now())
	if next.IsZero() {
		return errcode.New(errcode.BadRequest, "Cron %q: schedule %q never fires", name, spec)
	}
	return db.SetTimer(ctx, store.Timer{Name: name, Kind: TimerCron, Due: next, Scheduled: next, Spec: spec, Payload: payload})
}

// CancelTimer removes the named timer or cron schedule and reports whether
// there was one.
func (s *Storage) CancelTimer(ctx context.Context, name string) (bool, error) {
	db, err := s.db()
	if err != nil {
		return false, err
	}
	if name == "" {
		return false, errcode.New(errcode.BadRequest, "CancelTimer: the name is empty (use DeleteAlarm for the alarm)")
	}
	return db.DeleteTimer(ctx, name)
}

// Timers lists the named timers and cron schedules, earliest first (not the
// alarm: see GetAlarm).
func (s *Storage) Timers(ctx context.Context) ([]TimerInfo, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	ts, err := db.Timers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]TimerInfo, 0, len(ts))
	for _, t := range ts {
		if t.Name == "" {
			continue
		}
		out = append(out, TimerInfo{Name: t.Name, Kind: t.Kind, Next: t.Due, Spec: t.Spec, Payload: t.Payload, Attempt: t.Attempt})
	}
	return out, nil
}

// timerDB returns the database for setting a timer of kind ("alarm" or
// "timer"), if the class has the handler for it.
func (s *Storage) timerDB(ctx context.Context, kind string) (*store.DB, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	info := s.app.class(s.act.Class())
	switch {
	case kind == "alarm" && !info.alarms:
		return nil, errcode.New(errcode.NotImplemented, "class %q has no Alarm method (implement roost.AlarmHandler) to run its alarm", info.name)
	case kind == "timer" && !info.timers:
		return nil, errcode.New(errcode.NotImplemented, "class %q has no Timer method (implement roost.TimerHandler) to run its timers", info.name)
	}
	return db, ctx.Err()
}

func (s *Storage) checkTimer(name string, payload []byte) error {
	switch {
	case name == "":
		return errcode.New(errcode.BadRequest, "timer name is empty")
	case len(name) > MaxTimerName:
		return errcode.New(errcode.BadRequest, "timer name is %d bytes, want at most %d", len(name), MaxTimerName)
	case !utf8.ValidString(name):
		return errcode.New(errcode.BadRequest, "timer name is not valid UTF-8")
	case len(payload) > s.app.store.Config().MaxValueSize:
		return &store.LimitError{Limit: "timer payload size", Max: int64(s.app.store.Config().MaxValueSize), Got: int64(len(payload))}
	}
	return nil
}

// fireID names one fire of a timer across its retries.
func fireID(name string, scheduled time.Time) string {
	if name == "" {
		name = "alarm"
	}
	return fmt.Sprintf("%s@%d", name, scheduled.UnixMilli())
}
