package roosttest

import (
	"context"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/clock"
)

// Epoch is where an [Env]'s clock starts unless [WithStart] says otherwise:
// 2026-01-01 00:00:00 UTC. Treat it as a constant.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is a virtual clock: its time moves only when [Clock.Advance] or
// [Clock.Set] is called, and the timers due by then fire inside that call,
// in deadline order. It implements [roost.Clock], so it can drive an app
// ([roost.Config.Clock]) or any other code that takes one. It is safe for
// concurrent use.
//
// A Clock wraps Roost's own virtual clock (the one its tests use); the
// wrapper exists because that type lives in an internal package.
type Clock struct{ v *clock.Virtual }

var _ roost.Clock = (*Clock)(nil)

// NewClock returns a virtual clock that reads start until it is advanced.
// An [Env] makes its own; NewClock is for code tested without an app.
func NewClock(start time.Time) *Clock { return &Clock{v: clock.NewVirtual(start)} }

// Now returns the clock's time. While a timer fires during Advance, Now is
// that timer's deadline.
func (c *Clock) Now() time.Time { return c.v.Now() }

// Advance moves the clock forward by d and fires every timer whose deadline
// it reaches, one at a time in deadline order, with Now at each deadline
// while that timer fires. It returns once the clock reads the old time plus
// d and no due timer is left.
//
// Firing a timer only hands the wake to its owner: an app's alarms, a
// workflow's sleep then run on their own goroutines, after Advance may have
// returned. [Env.Advance] also waits until they have run.
//
// DON'T call Advance or Set from a timer's callback: it deadlocks.
func (c *Clock) Advance(d time.Duration) { c.v.Advance(d) }

// Set moves the clock to t, firing timers as Advance does. If t is before
// Now, the clock steps back and only timers already due fire.
func (c *Clock) Set(t time.Time) { c.v.Set(t) }

// AfterFunc arms a timer that calls f once the clock has advanced by d. f
// runs in the goroutine that advances the clock. A timer armed with d ≤ 0
// fires at the next Advance, even Advance(0).
func (c *Clock) AfterFunc(d time.Duration, f func()) roost.Timer { return c.v.AfterFunc(d, f) }

// NewTimer arms a timer that sends the fire time on its channel once the
// clock has advanced by d.
func (c *Clock) NewTimer(d time.Duration) roost.Timer { return c.v.NewTimer(d) }

// Pending returns the number of armed timers.
func (c *Clock) Pending() int { return c.v.Pending() }

// WaitForTimers blocks until at least n timers are armed, or ctx ends: to
// know that the code under test armed its timers before advancing the clock.
func (c *Clock) WaitForTimers(ctx context.Context, n int) error { return c.v.WaitForTimers(ctx, n) }
