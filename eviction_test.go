package roost_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/roost-dev/roost"
)

func TestEviction_IdleObjectLeavesMemoryAndComesBack(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{IdleTimeout: time.Second})
	c := registerObj(app, "idle", nil)
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		o.n = 42
		return o.st.Storage().Put(ctx, "k", []byte("stored"))
	})
	if n := app.ActiveObjects(); n != 1 {
		t.Fatalf("ActiveObjects = %d after one event, want 1", n)
	}

	app.evictIdle(t)

	var field, gen int64
	var stored string
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		field, gen = int64(o.n), o.gen
		v, _, err := o.st.Storage().Get(ctx, "k")
		stored = string(v)
		return err
	})
	if gen != 2 || c.constructs.Load() != 2 {
		t.Errorf("instance generation %d, constructor runs %d; want 2, 2 (a new instance)", gen, c.constructs.Load())
	}
	if field != 0 {
		t.Errorf("in-memory field = %d after eviction, want 0 (gone)", field)
	}
	if stored != "stored" {
		t.Errorf("stored value = %q after eviction, want %q", stored, "stored")
	}
}

func TestEviction_ActiveObjectStaysInMemory(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{IdleTimeout: time.Second})
	c := registerObj(app, "busy", nil)
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error { o.n = 1; return nil })
	for range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
		if err := app.Clock.WaitForTimers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		cancel()
		app.Clock.Advance(app.idleTimeout() - time.Millisecond) // not quite idle
		c.mustRun(t, "x", func(ctx context.Context, o *obj) error { o.n++; return nil })
	}
	var field int
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error { field = o.n; return nil })
	if field != 4 || c.constructs.Load() != 1 {
		t.Errorf("field = %d, constructor runs = %d; want 4, 1 (never evicted)", field, c.constructs.Load())
	}
}

func TestEviction_IdleTimeoutCountsFromLastEvent(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{IdleTimeout: time.Second})
	c := registerObj(app, "long", nil)
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error { return nil })
	waitCtx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := app.Clock.WaitForTimers(waitCtx, 1); err != nil {
		t.Fatal(err)
	}
	// An event that runs while the idle timeout passes: the object had an
	// event just now, so it must not leave when the event ends.
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		app.Clock.Advance(app.idleTimeout())
		return nil
	})
	// The object either arms a new idle timer or, wrongly, leaves.
	armedCtx, armed := context.WithCancel(waitCtx)
	left := make(chan struct{})
	go func() {
		defer close(left)
		app.WaitActiveObjects(armedCtx, func(n int) bool { return n == 0 })
		armed() // left memory: stop waiting for the timer
	}()
	err := app.Clock.WaitForTimers(armedCtx, 1)
	armed()
	<-left
	if err != nil || app.ActiveObjects() != 1 {
		t.Fatalf("the object left memory right after an event (active objects %d, timers armed %d)", app.ActiveObjects(), app.Clock.Pending())
	}
	var gen int64
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error { gen = o.gen; return nil })
	if gen != 1 {
		t.Errorf("instance generation %d, want 1 (still the first instance)", gen)
	}
}

func TestEviction_LRUBoundsOpenDatabases(t *testing.T) {
	t.Parallel()
	const maxActive, objects = 8, 100
	app := newApp(t, roost.Config{MaxActiveObjects: maxActive})
	c := registerObj(app, "lru", nil)
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	// checkBound runs after each event. Activating an object past the limit
	// asks the least recently used one to leave, which it does on its own
	// goroutine: for a moment there is one object over the limit, never more.
	checkBound := func(after string) {
		t.Helper()
		if n := app.ActiveObjects(); n > maxActive+1 {
			t.Fatalf("%d objects in memory after %s, want at most %d", n, after, maxActive+1)
		}
		if err := app.WaitActiveObjects(ctx, func(n int) bool { return n <= maxActive }); err != nil {
			t.Fatalf("after %s: %v", after, err)
		}
	}
	for i := range objects {
		c.mustRun(t, strconv.Itoa(i), func(ctx context.Context, o *obj) error {
			return o.st.Storage().Put(ctx, "i", []byte(strconv.Itoa(i)))
		})
		checkBound(fmt.Sprintf("writing object %d", i))
	}
	for i := range objects {
		var got string
		c.mustRun(t, strconv.Itoa(i), func(ctx context.Context, o *obj) error {
			v, _, err := o.st.Storage().Get(ctx, "i")
			got = string(v)
			return err
		})
		if got != strconv.Itoa(i) {
			t.Errorf("object %d read back %q", i, got)
		}
		checkBound(fmt.Sprintf("reading object %d", i))
	}
	if n := c.constructs.Load(); n < 2*objects-maxActive {
		t.Errorf("constructor ran %d times for %d objects touched twice with %d in memory: evicted objects came back without a new instance", n, objects, maxActive)
	}
}

func TestEviction_StorageOfEvictedInstanceIsClosed(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{IdleTimeout: time.Second})
	c := registerObj(app, "stale", nil)
	var kept *roost.Storage
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		kept = o.st.Storage()
		return kept.Put(ctx, "k", []byte("1"))
	})
	app.evictIdle(t)
	// A goroutine that outlived its instance cannot write behind the
	// object's back.
	err := kept.Put(t.Context(), "k", []byte("stale"))
	if !errors.Is(err, roost.ErrClosed) {
		t.Errorf("Put through the storage of an evicted instance: %v, want ErrClosed", err)
	}
	wantCode(t, err, "object_reset")
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		v, _, err := o.st.Storage().Get(ctx, "k")
		if string(v) != "1" {
			t.Errorf("stored %q, want %q", v, "1")
		}
		return err
	})
}
