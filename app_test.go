package roost_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/roost-dev/roost"
)

func TestApp_CloseDrainsInFlight(t *testing.T) {
	t.Parallel()
	const events = 50
	app := newApp(t, roost.Config{})
	c := registerObj(app, "drain", nil)
	probe := registerObj(app, "probe", nil)
	srv := serve(t, app)
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()

	// 50 events, each of its own object, write and then wait for release.
	release := make(chan struct{})
	started := make(chan struct{}, events)
	var completed atomic.Int64
	errs := make(chan error, events)
	for i := range events {
		go func() {
			errs <- c.run(ctx, strconv.Itoa(i), func(ctx context.Context, o *obj) error {
				if err := o.st.Storage().Put(ctx, "k", []byte(strconv.Itoa(i))); err != nil {
					return err
				}
				started <- struct{}{}
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
				completed.Add(1)
				return nil
			})
		}()
	}
	for range events {
		select {
		case <-started:
		case <-ctx.Done():
			t.Fatal("the events did not start")
		}
	}

	closed := make(chan error, 1)
	go func() { closed <- app.Close(ctx) }()
	// Close has begun once new events are refused.
	for {
		err := probe.run(ctx, "p", func(context.Context, *obj) error { return nil })
		if errors.Is(err, roost.ErrShuttingDown) {
			break
		}
		if err != nil {
			t.Fatalf("probe while closing: %v", err)
		}
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while events were still running", err)
	default:
	}
	close(release)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Close did not return after the events were released")
	}
	if n := completed.Load(); n != events {
		t.Errorf("Close returned after %d of %d in-flight events completed", n, events)
	}
	for range events {
		if err := <-errs; err != nil {
			t.Errorf("in-flight event: %v", err)
		}
	}

	// After Close: refused, in process and through the gateway.
	err := c.run(t.Context(), "0", func(context.Context, *obj) error { return nil })
	wantCode(t, err, "shutting_down")
	res := do(t, srv, http.MethodGet, "/drain/0", "")
	wantError(t, res, http.StatusServiceUnavailable, "shutting_down")
	if res.header.Get("Retry-After") == "" {
		t.Error("503 shutting_down without Retry-After")
	}

	// What the drained events wrote was committed.
	app = app.reopen(t)
	c = registerObj(app, "drain", nil)
	for i := range events {
		c.mustRun(t, strconv.Itoa(i), func(ctx context.Context, o *obj) error {
			v, _, err := o.st.Storage().Get(ctx, "k")
			if string(v) != strconv.Itoa(i) {
				t.Errorf("object %d: stored %q after Close, want %q", i, v, strconv.Itoa(i))
			}
			return err
		})
	}
}
