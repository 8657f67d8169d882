package catalog

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roost-dev/roost/internal/ids"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		removeBenchCache()
		os.Exit(code)
	}))
}

// context0 is the context of setup code that has no test to take one from.
func context0() context.Context { return context.Background() }

// t0 is the start of the tests' virtual clocks, and a base for their times.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// openTest opens a catalog in a temp dir (unless cfg.Path is set) that never
// flushes on its own (unless cfg.FlushInterval is set), and closes it at
// cleanup.
func openTest(t testing.TB, cfg Config, h *hooks) *Catalog {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "catalog.db")
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := open(cfg, h)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

// gate holds the writer's first flush before it takes the pending changes,
// until the test opens it.
type gate struct {
	entered chan struct{} // closed when the writer reached the gate
	release chan struct{}
	first   sync.Once
	opened  sync.Once
}

// openGated opens a catalog whose writer stops at a gate.
func openGated(t testing.TB, cfg Config, h *hooks) (*Catalog, *gate) {
	t.Helper()
	g := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	if h == nil {
		h = &hooks{}
	}
	h.beforeDrain = func() { g.first.Do(func() { close(g.entered); <-g.release }) }
	c := openTest(t, cfg, h)
	t.Cleanup(g.open) // runs before Close, which would wait at the gate
	return c, g
}

func (g *gate) open() { g.opened.Do(func() { close(g.release) }) }

// key returns the key of object n of class.
func key(class string, n int) Key {
	return Key{Class: class, ID: ids.FromName(class, strconv.Itoa(n))}
}

func flush(t testing.TB, c *Catalog) {
	t.Helper()
	if err := c.Flush(t.Context()); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// get returns k's entry as Get sees it, failing if it is missing.
func get(t testing.TB, c *Catalog, k Key) Entry {
	t.Helper()
	e, ok, err := c.Get(t.Context(), k)
	if err != nil {
		t.Fatalf("get %s: %v", k, err)
	}
	if !ok {
		t.Fatalf("get %s: missing", k)
	}
	return e
}

// storedEntry reads k's row through a connection of its own, so it sees only
// what was committed to the file.
func storedEntry(t testing.TB, path string, k Key) (Entry, bool) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_query_only=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := scanEntry(db.QueryRow(`SELECT `+columns+` FROM objects WHERE class = ? AND id = ?`, k.Class, k.ID.String()))
	if err == sql.ErrNoRows {
		return Entry{}, false
	}
	if err != nil {
		t.Fatalf("read %s: %v", k, err)
	}
	return e, true
}

// sameEntry fails unless got and want hold the same values.
func sameEntry(t testing.TB, got, want Entry) {
	t.Helper()
	if got.Class != want.Class || got.ID != want.ID || got.Name != want.Name || got.Size != want.Size ||
		got.Timers != want.Timers || !got.Created.Equal(want.Created) || !got.LastActive.Equal(want.LastActive) ||
		!got.NextWake.Equal(want.NextWake) {
		t.Fatalf("entry\n got %s\nwant %s", show(got), show(want))
	}
}

func show(e Entry) string {
	ms := func(t time.Time) string { return strconv.FormatInt(toMS(t), 10) }
	return e.Class + "/" + e.ID.String()[:8] + " name=" + strconv.Quote(e.Name) + " created=" + ms(e.Created) +
		" active=" + ms(e.LastActive) + " size=" + strconv.FormatInt(e.Size, 10) + " wake=" + ms(e.NextWake) +
		" timers=" + strconv.Itoa(e.Timers)
}
