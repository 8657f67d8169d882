package workflow

import (
	"context"
	"log/slog"
	"testing"

	"github.com/roost-dev/roost"
)

// openEngine opens an app on a temporary directory with cfg, and its engine;
// both close when the test ends.
func openEngine(t *testing.T, cfg roost.Config) *Engine {
	t.Helper()
	e := New(openApp(t, cfg))
	t.Cleanup(func() { e.Close(context.Background()) }) // before the app's: cleanups run last first
	return e
}

// openApp opens an app on a temporary directory with cfg; it closes when
// the test ends.
func openApp(t *testing.T, cfg roost.Config) *roost.App {
	t.Helper()
	cfg.Dir, cfg.Logger = t.TempDir(), slog.New(slog.DiscardHandler)
	app, err := roost.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close(context.Background()) })
	return app
}
