package roost_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/roost-dev/roost"
)

// increment is an event that does a non-atomic read-modify-write of the
// object's plain field, yielding in between, and stores the result: it counts
// right only if the object's events take turns.
func increment(ctx context.Context, o *obj) error {
	v := o.n
	runtime.Gosched()
	o.n = v + 1
	_, err := o.st.Storage().Exec(ctx, `INSERT INTO n (id, v) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET v = excluded.v`, o.n)
	return err
}

func TestEvents_SerializedPerObject(t *testing.T) {
	t.Parallel()
	const clients, perClient = 64, 10
	app := newApp(t, roost.Config{})
	c := registerObj(app, "turns", nil)
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		_, err := o.st.Storage().Exec(ctx, `CREATE TABLE n (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)`)
		return err
	})
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range perClient {
				if err := c.run(t.Context(), "x", increment); err != nil {
					t.Errorf("increment: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	var field, stored int
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		field = o.n
		return o.st.Storage().QueryRow(ctx, `SELECT v FROM n WHERE id = 1`).Scan(&stored)
	})
	if want := clients * perClient; field != want || stored != want {
		t.Errorf("after %d increments: field = %d, stored = %d", want, field, stored)
	}
	if n := c.constructs.Load(); n != 1 {
		t.Errorf("constructor ran %d times, want 1", n)
	}
}

// barrier lets two events wait for each other: each arrives, then waits until
// the other one has arrived too. Two events that cannot run at the same time
// never get past it.
type barrier struct {
	arrived map[string]chan struct{}
}

func newBarrier(names ...string) *barrier {
	b := &barrier{arrived: map[string]chan struct{}{}}
	for _, n := range names {
		b.arrived[n] = make(chan struct{})
	}
	return b
}

// meet marks name as arrived and waits for the other, or until ctx ends.
func (b *barrier) meet(ctx context.Context, name, other string) error {
	close(b.arrived[name])
	select {
	case <-b.arrived[other]:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s waited for %s, which never started: %w", name, other, ctx.Err())
	}
}

// meetBoth runs the events a and b at the same time and fails the test unless
// both get past the barrier before the timeout.
func meetBoth(t *testing.T, runA, runB func(ctx context.Context, fn script) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	b := newBarrier("a", "b")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() {
		errs[0] = runA(ctx, func(ctx context.Context, _ *obj) error { return b.meet(ctx, "a", "b") })
	})
	wg.Go(func() {
		errs[1] = runB(ctx, func(ctx context.Context, _ *obj) error { return b.meet(ctx, "b", "a") })
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("the two events did not run at the same time: %v", err)
	}
}

func TestEvents_DifferentObjectsRunInParallel(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	c := registerObj(app, "parallel", nil)
	meetBoth(t,
		func(ctx context.Context, fn script) error { return c.run(ctx, "a", fn) },
		func(ctx context.Context, fn script) error { return c.run(ctx, "b", fn) })
}

func TestEvents_ConcurrentClassOptIn(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	c := registerObjWithOptions(app, "concurrent", nil, &roost.ClassOptions{Concurrent: true})
	run := func(ctx context.Context, fn script) error { return c.run(ctx, "same", fn) }
	meetBoth(t, run, run)
	if n := c.constructs.Load(); n != 1 {
		t.Errorf("constructor ran %d times, want 1", n)
	}
}

func TestEvents_ConcurrentClassWritesAreDurable(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	c := &class{}
	c.Namespace = roost.RegisterWithOptions(app.App, "concurrent", func(st *roost.State) (*obj, error) {
		// A constructor that writes: its writes must not hold a transaction
		// open that the events' writes then join.
		err := st.BlockConcurrencyWhile(st.Context(), func(ctx context.Context) error {
			_, err := st.Storage().Exec(ctx, `CREATE TABLE IF NOT EXISTS t (v INTEGER)`)
			return err
		})
		return &obj{st: st, gen: c.constructs.Add(1)}, err
	}, &roost.ClassOptions{Concurrent: true})
	const events = 20
	var wg sync.WaitGroup
	for i := range events {
		wg.Go(func() {
			err := c.run(t.Context(), "x", func(ctx context.Context, o *obj) error {
				_, err := o.st.Storage().Exec(ctx, `INSERT INTO t (v) VALUES (?)`, i)
				return err
			})
			if err != nil {
				t.Errorf("insert %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	app.evictIdle(t) // the database is closed: what was not committed is gone
	var n int
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		return o.st.Storage().QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n)
	})
	if n != events {
		t.Errorf("%d rows after %d acknowledged inserts and an eviction", n, events)
	}
}

// block sends an event to the object named name that waits until release is
// closed, and returns once it runs, with a channel that gets its error.
func block(t *testing.T, c *class, name string, release <-chan struct{}) <-chan error {
	t.Helper()
	running := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- c.run(t.Context(), name, func(ctx context.Context, o *obj) error {
			close(running)
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	select {
	case <-running:
	case err := <-done:
		t.Fatalf("blocking event: %v", err)
	}
	return done
}

func TestEvents_AbandonedQueuedEventNeverRuns(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	c := registerObj(app, "abandon", nil)
	release := make(chan struct{})
	first := block(t, c, "x", release)

	// The second event waits behind the first until its caller gives up.
	ctx, cancel := context.WithCancel(t.Context())
	var ran atomic.Bool
	second := make(chan error, 1)
	go func() {
		second <- c.run(ctx, "x", func(ctx context.Context, o *obj) error {
			ran.Store(true)
			return o.st.Storage().Put(ctx, "abandoned", []byte("1"))
		})
	}()
	cancel()
	if err := <-second; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned event: %v, want context.Canceled", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		_, found, err := o.st.Storage().Get(ctx, "abandoned")
		if found || ran.Load() {
			t.Error("an event abandoned by its caller while queued ran")
		}
		return err
	})
}

func TestEvents_OverloadedObjectRefusesAtOnce(t *testing.T) {
	t.Parallel()
	const maxPending = 2
	app := newApp(t, roost.Config{MaxPendingEvents: maxPending})
	c := registerObj(app, "overload", nil)
	release := make(chan struct{})
	first := block(t, c, "x", release)

	// While the first event runs, three more arrive: two wait, one is
	// refused at once.
	errs := make(chan error, maxPending+1)
	for range maxPending + 1 {
		go func() { errs <- c.run(t.Context(), "x", func(context.Context, *obj) error { return nil }) }()
	}
	err := <-errs
	if !errors.Is(err, roost.ErrOverloaded) {
		t.Fatalf("first answer while %d events wait: %v, want ErrOverloaded", maxPending, err)
	}
	wantCode(t, err, "overloaded")
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range maxPending {
		if err := <-errs; err != nil {
			t.Errorf("queued event: %v", err)
		}
	}
}
