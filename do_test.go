package roost_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/roost-dev/roost"
)

// When the context of a Do ends while fn runs, Do returns once fn returned:
// what fn wrote to the caller's variables is then safe to read.
func TestDoReturnsAfterARunningFn(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerObj(app, "do", nil)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	wrote := 0
	errc := make(chan error, 1)
	go func() {
		errc <- roost.Do(ctx, c.GetByName("x"), func(ctx context.Context, o *obj) error {
			close(started)
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond) // fn is slow to notice
			wrote = 1
			return ctx.Err()
		})
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Do = %v, want context.Canceled", err)
	}
	if wrote != 1 {
		t.Fatal("Do returned before fn did")
	}
}

// A Do whose context ends while it waits for its turn never runs fn.
func TestDoAbandonedBeforeItsTurnNeverRuns(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerObj(app, "do", nil)
	stub := c.GetByName("x")
	busy, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- roost.Do(context.Background(), stub, func(ctx context.Context, o *obj) error {
			close(busy)
			<-release
			return nil
		})
	}()
	<-busy
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	if err := roost.Do(ctx, stub, func(ctx context.Context, o *obj) error { ran = true; return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do = %v, want context.DeadlineExceeded", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// The object's next event runs after the abandoned one would have.
	if err := roost.Do(context.Background(), stub, func(ctx context.Context, o *obj) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Fatal("the abandoned Do's fn ran")
	}
}
