package node

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/roost-dev/roost/internal/errcode"
)

// cronNext returns the first slot of spec after now, and how many slots
// after scheduled were skipped before it (the missed ones that one
// catch-up fire stands for).
func cronNext(spec string, scheduled, now time.Time) (time.Time, int, error) {
	sched, err := cronParser.Parse(spec)
	if err != nil {
		return time.Time{}, 0, errcode.New(errcode.BadRequest, "stored cron schedule %q: %v", spec, err)
	}
	missed := 0
	s := sched.Next(scheduled)
	for ; !s.IsZero() && !s.After(now) && missed < maxMissedCount; s = sched.Next(s) {
		missed++
	}
	next := sched.Next(now)
	if next.IsZero() {
		return time.Time{}, 0, errcode.New(errcode.BadRequest, "cron schedule %q never fires again", spec)
	}
	return next, missed, nil
}

// maxMissedCount bounds the counting of missed cron slots.
const maxMissedCount = 1_000_000

// Timer kinds, as the store keeps them and roost.TimerFire shows them.
const (
	TimerOnce = "timer"
	TimerCron = "cron"
)

// cronParser accepts the standard five fields, descriptors such as @hourly
// and @every 5m, and a CRON_TZ=Zone prefix (default UTC).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cronFirst checks the schedule spec of the timer name and returns its
// first slot after now.
func cronFirst(name, spec string, now time.Time) (time.Time, error) {
	sched, err := cronParser.Parse(spec)
	if err != nil {
		return time.Time{}, errcode.New(errcode.BadRequest, "Cron %q: bad schedule %q: %v", name, spec, err)
	}
	next := sched.Next(now)
	if next.IsZero() {
		return time.Time{}, errcode.New(errcode.BadRequest, "Cron %q: schedule %q never fires", name, spec)
	}
	return next, nil
}

// fireID names one fire of a timer across its retries:
// "<name>@<scheduled time, UTC, ms>" ("alarm" for the alarm).
func fireID(name string, scheduled time.Time) string {
	if name == "" {
		name = "alarm"
	}
	return fmt.Sprintf("%s@%d", name, scheduled.UnixMilli())
}
