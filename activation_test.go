package roost_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/roost-dev/roost"
)

func TestActivation_ConstructorRunsOnceUnderStampede(t *testing.T) {
	t.Parallel()
	const clients = 1000
	app := newApp(t, roost.Config{})
	srv := serve(t, app)
	tests := []struct {
		name string
		// increment sends one increment to the counter named name.
		increment func(ctx context.Context, ns *roost.Namespace, name string) (response, error)
	}{
		{"stub", func(ctx context.Context, ns *roost.Namespace, name string) (response, error) {
			return fetch(ctx, ns.Get(ns.IDFromName(name)), http.MethodPost, "/increment", "")
		}},
		{"gateway", func(ctx context.Context, ns *roost.Namespace, name string) (response, error) {
			return send(ctx, srv.Client(), http.MethodPost, srv.URL+"/"+ns.Class()+"/"+name+"/increment", "")
		}},
	}
	for _, tt := range tests {
		ns, constructs := registerCounter(app, "stampede-"+tt.name)
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := make(chan struct{})
			values := make([]int64, clients)
			var wg sync.WaitGroup
			for i := range clients {
				wg.Go(func() {
					<-start
					res, err := tt.increment(t.Context(), ns, "new")
					if err != nil {
						t.Errorf("increment %d: %v (code %s)", i, err, roost.ErrorCode(err))
						return
					}
					values[i] = counterValue(t, res)
				})
			}
			close(start)
			wg.Wait()
			if t.Failed() {
				return
			}
			if n := constructs.Load(); n != 1 {
				t.Errorf("constructor ran %d times, want 1", n)
			}
			// Each increment saw a different value: they took turns.
			slices.Sort(values)
			for i, v := range values {
				if v != int64(i+1) {
					t.Fatalf("sorted increment results[%d] = %d, want %d: increments were lost or repeated", i, v, i+1)
				}
			}
			res, err := fetch(t.Context(), ns.Get(ns.IDFromName("new")), http.MethodGet, "/", "")
			if err != nil {
				t.Fatal(err)
			}
			if got := counterValue(t, res); got != clients {
				t.Errorf("counter = %d after %d increments", got, clients)
			}
		})
	}
}

func TestActivation_ConstructorFailureFailsEventAndRetries(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	var constructs atomic.Int64
	ns := roost.Register(app.App, "flaky", func(st *roost.State) (*obj, error) {
		n := constructs.Add(1)
		err := st.BlockConcurrencyWhile(st.Context(), func(ctx context.Context) error {
			if err := st.Storage().Put(ctx, "constructed", []byte("1")); err != nil {
				return err
			}
			if n == 1 {
				return errors.New("first construction fails")
			}
			return nil
		})
		return &obj{st: st, gen: n}, err
	})
	c := &class{Namespace: ns}
	err := c.run(t.Context(), "x", func(context.Context, *obj) error {
		t.Error("the event ran although its object could not be constructed")
		return nil
	})
	wantCode(t, err, "init_failed")
	var gen int64
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		gen = o.gen
		_, found, err := o.st.Storage().Get(ctx, "constructed")
		if !found {
			t.Error("the second constructor's write is not visible")
		}
		return err
	})
	if gen != 2 {
		t.Errorf("instance %d handled the event, want 2", gen)
	}
}
