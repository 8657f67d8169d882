package clock_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/clock"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// firing records the order of AfterFunc callbacks and the clock's time in each.
type firing struct {
	mu  sync.Mutex // guards got
	got []string
}

func (f *firing) record(v *clock.Virtual, name string) func() {
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.got = append(f.got, name+"@"+v.Now().Sub(epoch).String())
	}
}

func (f *firing) check(t *testing.T, want ...string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) != len(want) {
		t.Fatalf("fired %q, want %q", f.got, want)
	}
	for i := range want {
		if f.got[i] != want[i] {
			t.Fatalf("fired %q, want %q", f.got, want)
		}
	}
	f.got = nil
}

func TestVirtual_NowMovesOnlyWithAdvanceAndSet(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	if got := v.Now(); !got.Equal(epoch) {
		t.Fatalf("Now() = %v, want %v", got, epoch)
	}
	v.Advance(90 * time.Second)
	if got, want := v.Now(), epoch.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("after Advance: Now() = %v, want %v", got, want)
	}
	later := epoch.Add(24 * time.Hour)
	v.Set(later)
	if got := v.Now(); !got.Equal(later) {
		t.Fatalf("after Set: Now() = %v, want %v", got, later)
	}
}

func TestVirtual_FiresInDeadlineOrderWithNowAtDeadline(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	var f firing
	v.AfterFunc(3*time.Second, f.record(v, "c"))
	v.AfterFunc(1*time.Second, f.record(v, "a"))
	v.AfterFunc(2*time.Second, f.record(v, "b"))
	v.AfterFunc(5*time.Second, f.record(v, "late"))
	v.Advance(4 * time.Second)
	f.check(t, "a@1s", "b@2s", "c@3s")
	if got := v.Pending(); got != 1 {
		t.Fatalf("Pending() = %d, want 1", got)
	}
	v.Advance(time.Second)
	f.check(t, "late@5s")
}

func TestVirtual_EqualDeadlinesFireInArmingOrder(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	var f firing
	for _, name := range []string{"1", "2", "3", "4"} {
		v.AfterFunc(time.Second, f.record(v, name))
	}
	v.Advance(time.Second)
	f.check(t, "1@1s", "2@1s", "3@1s", "4@1s")
}

func TestVirtual_CallbackTimersWithinWindowFireInSameAdvance(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	var f firing
	v.AfterFunc(time.Second, func() {
		f.record(v, "outer")()
		v.AfterFunc(2*time.Second, f.record(v, "inner"))  // at 3s: inside the window
		v.AfterFunc(10*time.Second, f.record(v, "after")) // at 11s: outside
	})
	v.AfterFunc(4*time.Second, f.record(v, "sibling"))
	v.Advance(5 * time.Second)
	f.check(t, "outer@1s", "inner@3s", "sibling@4s")
	v.Advance(6 * time.Second)
	f.check(t, "after@11s")
}

func TestVirtual_CallbackCanResetItself(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	var f firing
	var tm clock.Timer
	n := 0
	tm = v.AfterFunc(time.Second, func() {
		f.record(v, "tick")()
		if n++; n < 3 {
			tm.Reset(time.Second)
		}
	})
	v.Advance(time.Minute)
	f.check(t, "tick@1s", "tick@2s", "tick@3s")
}

func TestVirtual_NonPositiveDurationFiresOnNextAdvance(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	var f firing
	v.AfterFunc(-time.Second, f.record(v, "neg"))
	v.AfterFunc(0, f.record(v, "zero"))
	f.check(t)
	v.Advance(0)
	f.check(t, "neg@0s", "zero@0s")
}

func TestVirtual_ChannelTimerSendsDeadline(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	tm := v.NewTimer(time.Second)
	v.Advance(time.Hour)
	select {
	case got := <-tm.C():
		if want := epoch.Add(time.Second); !got.Equal(want) {
			t.Fatalf("fire time = %v, want %v", got, want)
		}
	default:
		t.Fatal("timer did not fire")
	}
}

func TestVirtual_StopAfterFunc(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	var f firing
	tm := v.AfterFunc(time.Second, f.record(v, "stopped"))
	if tm.C() != nil {
		t.Fatal("AfterFunc timer has a channel")
	}
	if !tm.Stop() {
		t.Fatal("Stop() on an armed timer = false")
	}
	if tm.Stop() {
		t.Fatal("second Stop() = true")
	}
	v.Advance(time.Minute)
	f.check(t)
	fired := v.AfterFunc(time.Second, f.record(v, "fired"))
	v.Advance(time.Second)
	if fired.Stop() {
		t.Fatal("Stop() after firing = true")
	}
	f.check(t, "fired@1m1s")
}

func TestVirtual_StopChannelTimer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		advance  time.Duration
		receive  bool
		wantStop bool
	}{
		{name: "armed", advance: 0, wantStop: true},
		{name: "fired unread", advance: time.Second, wantStop: true},
		{name: "fired and received", advance: time.Second, receive: true, wantStop: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := clock.NewVirtual(epoch)
			tm := v.NewTimer(time.Second)
			v.Advance(tt.advance)
			if tt.receive {
				<-tm.C()
			}
			if got := tm.Stop(); got != tt.wantStop {
				t.Fatalf("Stop() = %v, want %v", got, tt.wantStop)
			}
			v.Advance(time.Minute)
			assertEmpty(t, tm)
		})
	}
}

func TestVirtual_ResetRearmsFromNow(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	var f firing
	tm := v.AfterFunc(time.Second, f.record(v, "t"))
	v.Advance(500 * time.Millisecond)
	if !tm.Reset(time.Second) {
		t.Fatal("Reset() on an armed timer = false")
	}
	v.Advance(900 * time.Millisecond)
	f.check(t)
	v.Advance(100 * time.Millisecond)
	f.check(t, "t@1.5s")
	if tm.Reset(time.Second) {
		t.Fatal("Reset() on a fired timer = true")
	}
	v.Advance(time.Second)
	f.check(t, "t@2.5s")
}

func TestVirtual_ResetDropsUnreadValue(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	tm := v.NewTimer(time.Second)
	v.Advance(time.Second)
	if !tm.Reset(time.Second) {
		t.Fatal("Reset() with an unread value = false")
	}
	assertEmpty(t, tm)
	v.Advance(time.Second)
	if got, want := <-tm.C(), epoch.Add(2*time.Second); !got.Equal(want) {
		t.Fatalf("fire time = %v, want %v", got, want)
	}
}

func TestVirtual_SetBackwardsFiresNothingNew(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	var f firing
	v.AfterFunc(time.Second, f.record(v, "t"))
	v.Set(epoch.Add(-time.Hour))
	f.check(t)
	if got, want := v.Now(), epoch.Add(-time.Hour); !got.Equal(want) {
		t.Fatalf("Now() = %v, want %v", got, want)
	}
	v.Set(epoch.Add(time.Second))
	f.check(t, "t@1s")
}

func TestVirtual_PendingCountsArmedTimers(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	a := v.NewTimer(time.Second)
	v.AfterFunc(2*time.Second, func() {})
	if got := v.Pending(); got != 2 {
		t.Fatalf("Pending() = %d, want 2", got)
	}
	a.Stop()
	a.Reset(time.Second)
	a.Reset(time.Second)
	if got := v.Pending(); got != 2 {
		t.Fatalf("after Stop and Resets: Pending() = %d, want 2", got)
	}
	v.Advance(time.Second)
	if got := v.Pending(); got != 1 {
		t.Fatalf("after one fired: Pending() = %d, want 1", got)
	}
}

func TestVirtual_WaitForTimersReturnsOnceArmed(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		v.NewTimer(time.Second)
		v.AfterFunc(time.Second, func() {})
	})
	if err := v.WaitForTimers(t.Context(), 2); err != nil {
		t.Fatalf("WaitForTimers: %v", err)
	}
	if got := v.Pending(); got < 2 {
		t.Fatalf("Pending() = %d, want ≥ 2", got)
	}
}

func TestVirtual_WaitForTimersStopsWithContext(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := v.WaitForTimers(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitForTimers = %v, want context.Canceled", err)
	}
}

func TestVirtual_ConcurrentUseFiresEveryArmedTimer(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(epoch)
	const workers, perWorker = 8, 50
	var fired sync.WaitGroup
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				fired.Add(1)
				tm := v.AfterFunc(time.Duration(i%7)*time.Second, fired.Done)
				if i%5 == w%5 && tm.Stop() {
					fired.Done()
				}
				v.Now()
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			v.Advance(time.Second)
		}
	})
	wg.Wait()
	v.Advance(time.Minute) // fire what the advancing goroutine raced past
	fired.Wait()
	if got := v.Pending(); got != 0 {
		t.Fatalf("Pending() = %d, want 0", got)
	}
}

func assertEmpty(t *testing.T, tm clock.Timer) {
	t.Helper()
	select {
	case got := <-tm.C():
		t.Fatalf("received stale value %v", got)
	default:
	}
}
