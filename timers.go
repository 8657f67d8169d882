package roost

import (
	"context"
	"time"

	"github.com/roost-dev/roost/internal/node"
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
	TimerOnce = node.TimerOnce
	TimerCron = node.TimerCron
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
const MaxTimerName = node.MaxTimerName

// SetAlarm sets the object's one alarm to at, replacing any alarm it has.
// An alarm in the past fires at once. It commits with the event. The
// object's class must implement [AlarmHandler].
func (s *Storage) SetAlarm(ctx context.Context, at time.Time) error { return s.act.SetAlarm(ctx, at) }

// GetAlarm returns the time the alarm is set for, and false if none is set.
func (s *Storage) GetAlarm(ctx context.Context) (time.Time, bool, error) { return s.act.Alarm(ctx) }

// DeleteAlarm removes the alarm, if one is set.
func (s *Storage) DeleteAlarm(ctx context.Context) error { return s.act.DeleteAlarm(ctx) }

// Schedule sets a named one-shot timer to fire at at with payload,
// replacing any timer or cron schedule of that name. It commits with the
// event: if the event fails, no timer is set. The object's class must
// implement [TimerHandler]. Names are 1 to [MaxTimerName] bytes of UTF-8;
// a payload is at most [Config.MaxValueSize] bytes.
func (s *Storage) Schedule(ctx context.Context, name string, at time.Time, payload []byte) error {
	return s.act.Schedule(ctx, name, at, payload)
}

// Cron sets a named cron schedule, replacing any timer or schedule of that
// name: spec is five fields (minute hour day-of-month month day-of-week,
// e.g. "*/5 * * * *"), or a descriptor (@hourly, @daily, @every 90s), in UTC
// unless it starts with CRON_TZ=<zone>. Each slot fires once, at least once;
// slots missed while the server was down are caught up by a single fire
// (see [TimerFire.Missed]). It commits with the event.
func (s *Storage) Cron(ctx context.Context, name, spec string, payload []byte) error {
	return s.act.Cron(ctx, name, spec, payload)
}

// CancelTimer removes the named timer or cron schedule and reports whether
// there was one.
func (s *Storage) CancelTimer(ctx context.Context, name string) (bool, error) {
	return s.act.CancelTimer(ctx, name)
}

// Timers lists the named timers and cron schedules, earliest first (not the
// alarm: see GetAlarm).
func (s *Storage) Timers(ctx context.Context) ([]TimerInfo, error) {
	ts, err := s.act.Timers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]TimerInfo, len(ts))
	for i, t := range ts {
		out[i] = TimerInfo{Name: t.Name, Kind: t.Kind, Next: t.Due, Spec: t.Spec, Payload: t.Payload, Attempt: t.Attempt}
	}
	return out, nil
}
