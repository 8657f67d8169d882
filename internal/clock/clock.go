package clock

import (
	"context"
	"time"
)

// Clock tells the time and runs timers. Implementations are safe for
// concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f once d has elapsed. The returned Timer's C is nil.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTimer returns a Timer that sends the time on its channel once d
	// has elapsed.
	NewTimer(d time.Duration) Timer
}

// Timer is a single event, like time.Timer.
type Timer interface {
	// C returns the channel the fire time is sent on, or nil for a timer
	// made by AfterFunc.
	C() <-chan time.Time
	// Stop prevents the timer from firing. It reports whether it stopped
	// the timer, false if the timer had already fired or been stopped. A
	// fire time still unread on C is drained and counts as not fired, so
	// no receive from C after Stop returns gets a stale value.
	Stop() bool
	// Reset rearms the timer to fire once d has elapsed from Now. It
	// drains C and reports what Stop would have reported.
	Reset(d time.Duration) bool
}

// Real returns the Clock of package time. Its timers are time.Timer values.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{time.AfterFunc(d, f)}
}

func (realClock) NewTimer(d time.Duration) Timer {
	return realTimer{time.NewTimer(d)}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }

func (r realTimer) Stop() bool { return r.t.Stop() }

func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// Sleep waits d on the real clock, or until ctx ends; it reports whether
// the whole d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
