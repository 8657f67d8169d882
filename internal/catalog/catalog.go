package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/ids"
)

// Synchronous modes of the catalog file; see [Config.Synchronous].
const (
	SyncFull   = "full"
	SyncNormal = "normal"
)

// DefaultFlushInterval is the default of [Config.FlushInterval].
const DefaultFlushInterval = time.Second

// Config configures a [Catalog]. The zero value of a field means its default.
type Config struct {
	// Path is the catalog's SQLite file, such as <data>/catalog.db. It is
	// created with its schema if missing. Required.
	Path string
	// Synchronous is the catalog's PRAGMA synchronous: "full" fsyncs every
	// transaction, so a SetWake that returned survives a power failure;
	// "normal" fsyncs only at checkpoints, so it survives a crash of the
	// process only. Defaults to "full".
	Synchronous string
	// FlushInterval is how long a lazy Update or Remove may wait before the
	// writer writes it, in real time. Defaults to 1s.
	FlushInterval time.Duration
	// Clock gives the creation time of a row that an Update or SetWake
	// creates without one. Defaults to the real clock.
	Clock clock.Clock
	// Logger receives flush failures, which the writer retries. Defaults to
	// slog.Default().
	Logger *slog.Logger
}

func (c *Config) fill() error {
	if c.Path == "" {
		return errors.New("catalog: config: Path: must be set")
	}
	switch c.Synchronous {
	case "":
		c.Synchronous = SyncFull
	case SyncFull, SyncNormal:
	default:
		return fmt.Errorf("catalog: config: Synchronous: must be %q or %q, got %q", SyncFull, SyncNormal, c.Synchronous)
	}
	switch {
	case c.FlushInterval == 0:
		c.FlushInterval = DefaultFlushInterval
	case c.FlushInterval < time.Millisecond:
		return fmt.Errorf("catalog: config: FlushInterval: must be ≥ 1ms, got %s", c.FlushInterval)
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Key names one object: its class and its ID.
type Key struct {
	Class string
	ID    ids.ID
}

// String returns "class/id".
func (k Key) String() string { return k.Class + "/" + k.ID.String() }

// Entry is one object as the catalog knows it. Zero times mean unknown, or
// for NextWake, no pending alarm or timer.
type Entry struct {
	Class string
	ID    ids.ID
	// Name is the name the object was addressed by, "" if unknown (an object
	// created from a unique ID).
	Name string
	// Created is when the object's storage was created.
	Created time.Time
	// LastActive is the time of its last event.
	LastActive time.Time
	// Size is the size of its storage in bytes.
	Size int64
	// NextWake is when it must be woken next; zero if nothing is pending.
	NextWake time.Time
	// Timers counts its pending alarm, named timers and cron schedules.
	Timers int
}

// Key returns the entry's key.
func (e Entry) Key() Key { return Key{Class: e.Class, ID: e.ID} }

// Catalog is the node's inventory of objects, stored in one SQLite file. It is
// safe for concurrent use. See the package documentation for its write paths.
type Catalog struct {
	cfg   Config
	db    *sql.DB // the writer's connection; only the writer goroutine writes
	rdb   *sql.DB // readers' connections, query_only
	stmts stmts   // prepared on db
	isNew bool
	hooks *hooks // nil in production

	kick chan struct{} // wakes the writer now; capacity 1

	mu sync.Mutex // guards the fields below
	// pending holds the lazy and durable changes not yet taken by the writer.
	pending map[Key]pending
	// inflight is the batch the writer is writing, nil between flushes; Get
	// merges it, since its rows may not be committed yet.
	inflight map[Key]pending
	// spare is an emptied map kept for the next swap, so steady-state
	// flushes allocate no map.
	spare map[Key]pending
	// next is the round that waiting SetWake and Flush calls join: the
	// writer completes it after the transaction that holds their changes.
	next *round
	// jobs are writes of their own (Reconcile) that run after the batch.
	jobs   []*job
	closed bool

	txs     atomic.Int64 // committed flush transactions, for tests
	failing bool         // the last flush failed; owned by the writer goroutine
	keys    []Key        // the writer's buffer for sorting a batch

	cancel context.CancelFunc // stops the writer
	wg     sync.WaitGroup     // waits for the writer
	once   sync.Once          // makes Close idempotent
	// closeErr is set by the writer if its last flush fails, then by Close;
	// it is read only after the writer has stopped.
	closeErr error
}

// hooks let tests stop the writer at chosen points and inject failures.
type hooks struct {
	beforeDrain func()       // called by the writer before it takes the pending changes
	queued      func()       // called when a SetWake or Flush starts waiting
	writeErr    func() error // a non-nil result fails the flush before its commit
	written     func(error)  // called after each flush of a non-empty batch, with its result
}

// Open opens the catalog at cfg.Path, creating the file and its schema if
// missing ([Catalog.New] then reports true), and starts its writer. Close
// must be called to stop the writer and write what is pending.
func Open(cfg Config) (*Catalog, error) { return open(cfg, nil) }

func open(cfg Config, h *hooks) (*Catalog, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	c := &Catalog{
		cfg:     cfg,
		hooks:   h,
		kick:    make(chan struct{}, 1),
		pending: make(map[Key]pending),
		spare:   make(map[Key]pending),
	}
	if err := c.openDB(); err != nil {
		return nil, fmt.Errorf("catalog: open %s: %w", cfg.Path, storageError(err))
	}
	ctx, cancel := context.WithCancel(context.Background()) // the writer outlives Open
	c.cancel = cancel
	c.wg.Go(func() { c.run(ctx) })
	return c, nil
}

// New reports whether Open created the catalog: its file, or its schema in an
// empty file. The caller then rebuilds it from the objects on disk (see
// [Catalog.Reconcile]).
func (c *Catalog) New() bool { return c.isNew }

// Close writes every pending change, stops the writer and closes the file.
// Calls that need the writer fail with [ErrClosed] afterwards, and Updates
// and Removes are dropped. The error is that of the last flush, or of closing
// the file; the changes of a failed last flush are lost (Reconcile repairs
// the inventory at the next start). Close is safe to call more than once; the
// later calls return the first one's error.
func (c *Catalog) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.cancel()
		c.wg.Wait()
		if err := c.closeDB(); err != nil {
			c.closeErr = errors.Join(c.closeErr, fmt.Errorf("catalog: %w", err))
		}
	})
	return c.closeErr
}
