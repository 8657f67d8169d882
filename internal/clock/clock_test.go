package clock_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/roost-dev/roost/internal/clock"
)

// The Real tests run in a synctest bubble, where package time is faked, so
// hour-long timers fire without waiting.

func TestReal_NowIsTimeNow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		if got, want := clock.Real().Now(), time.Now(); !got.Equal(want) {
			t.Fatalf("Now() = %v, want %v", got, want)
		}
	})
}

func TestReal_AfterFuncFiresAfterDuration(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		fired := make(chan time.Time, 1)
		tm := clock.Real().AfterFunc(time.Hour, func() { fired <- time.Now() })
		if tm.C() != nil {
			t.Fatal("AfterFunc timer has a channel")
		}
		if got := (<-fired).Sub(start); got != time.Hour {
			t.Fatalf("fired after %v, want 1h", got)
		}
		if tm.Stop() {
			t.Fatal("Stop() after firing = true")
		}
	})
}

func TestReal_NewTimerStopAndReset(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		tm := clock.Real().NewTimer(time.Hour)
		if !tm.Stop() {
			t.Fatal("Stop() on an armed timer = false")
		}
		if tm.Reset(2 * time.Hour) {
			t.Fatal("Reset() on a stopped timer = true")
		}
		if got := (<-tm.C()).Sub(start); got != 2*time.Hour {
			t.Fatalf("fired after %v, want 2h", got)
		}
	})
}
