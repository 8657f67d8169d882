package roost

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/roost-dev/roost/internal/gateway"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/store"
)

// App is a running Roost: the registered classes, their objects' storage
// beneath one data directory, and the HTTP gateway in front of them.
type App struct {
	cfg   Config
	store *store.Store
	rt    *runtime.Runtime
	gw    *gateway.Gateway

	closeOnce sync.Once
	closeErr  error
}

// Open validates cfg, fills its defaults and opens the data directory. ctx
// bounds the opening only. Close the app when done.
func Open(ctx context.Context, cfg Config) (*App, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := store.Open(store.Config{
		Dir: cfg.Dir, Synchronous: store.Sync(cfg.Durability), MaxKeySize: cfg.MaxKeySize,
		MaxValueSize: cfg.MaxValueSize, MaxDatabaseSize: cfg.MaxDatabaseSize, Faults: cfg.faults,
	})
	if err != nil {
		return nil, fmt.Errorf("roost: open: %w", err)
	}
	rt, err := runtime.New(runtime.Config{
		Store: st, Clock: cfg.Clock, Logger: cfg.Logger, IdleTimeout: cfg.IdleTimeout,
		MaxActive: cfg.MaxActiveObjects, MaxPending: cfg.MaxPendingEvents, BlockTimeout: cfg.BlockConcurrencyTimeout,
	})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("roost: open: %w", err)
	}
	a := &App{cfg: cfg, store: st, rt: rt}
	a.gw, err = gateway.New(gateway.Config{Objects: gatewayObjects{a}, MaxBodyBytes: cfg.MaxBodyBytes, Logger: cfg.Logger})
	if err != nil {
		rt.Close(ctx)
		st.Close()
		return nil, fmt.Errorf("roost: open: %w", err)
	}
	return a, nil
}

// Close stops accepting events, lets in-flight and queued events finish and
// commit (bounded by ctx: after it ends, handlers see their context
// canceled), closes every database and releases the data directory. It is
// safe to call more than once.
func (a *App) Close(ctx context.Context) error {
	a.closeOnce.Do(func() {
		a.closeErr = a.rt.Close(ctx)
		if err := a.store.Close(); a.closeErr == nil {
			a.closeErr = err
		}
	})
	return a.closeErr
}

// Handler returns the HTTP gateway: /{class}/{name}/... and
// /{class}/id/{hexid}/... reach the object's handler with the rest of the
// path; errors are JSON {"error":{"code":…,"message":…}}.
func (a *App) Handler() http.Handler { return a.gw }

// Handle mounts h on the gateway for pattern (http.ServeMux syntax). Patterns
// take precedence over object routes; use them for pages and APIs beside the
// objects.
func (a *App) Handle(pattern string, h http.Handler) { a.gw.Handle(pattern, h) }

// ActiveObjects returns the number of object instances in memory.
func (a *App) ActiveObjects() int { return a.rt.Active() }

// WaitActiveObjects blocks until ok(number of objects in memory) holds or ctx
// ends. Tests use it to wait for eviction without sleeping.
func (a *App) WaitActiveObjects(ctx context.Context, ok func(n int) bool) error {
	return a.rt.WaitActive(ctx, ok)
}

// gatewayObjects is the app as the gateway sees it.
type gatewayObjects struct{ a *App }

func (g gatewayObjects) HasClass(class string) bool {
	_, ok := g.a.rt.Class(class)
	return ok
}

func (g gatewayObjects) Fetch(ctx context.Context, class string, id ids.ID, name string, req *http.Request) (*http.Response, error) {
	return fetch(ctx, g.a.rt, class, id, name, req)
}
