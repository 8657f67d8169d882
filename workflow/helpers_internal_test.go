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
	cfg.Dir, cfg.Logger = t.TempDir(), slog.New(slog.DiscardHandler)
	app, err := roost.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := New(app)
	t.Cleanup(func() {
		e.Close(context.Background())
		app.Close(context.Background())
	})
	return e
}
