package roost_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
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
