package runtime

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/store"
)

// Errors of the runtime.
var (
	// ErrShuttingDown: the runtime is closing and accepts no new events.
	ErrShuttingDown = &errcode.Error{Code: errcode.ShuttingDown, Message: "server is shutting down"}
	// ErrUnknownClass: no class of that name is registered.
	ErrUnknownClass = &errcode.Error{Code: errcode.UnknownClass, Message: "unknown class"}
	// ErrOverloaded: the object's mailbox is full.
	ErrOverloaded = &errcode.Error{Code: errcode.Overloaded, Message: "object overloaded: too many pending events; retry later"}
)

// Config configures a [Runtime]. The zero value of a field means its default.
type Config struct {
	// Store holds the objects' databases. Required.
	Store *store.Store
	// Clock is the time source. Defaults to the real clock.
	Clock clock.Clock
	// Logger receives the runtime's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// IdleTimeout is how long an object stays in memory without events.
	// Defaults to 10s. Negative disables idle eviction.
	IdleTimeout time.Duration
	// MaxActive bounds the objects in memory, and so the open database files
	// (two descriptors each): beyond it the least recently used idle object is
	// evicted. Defaults to 256.
	MaxActive int
	// MaxPending bounds the queued events of one object; beyond it callers get
	// an overloaded error at once. Defaults to 4096.
	MaxPending int
	// MaxBatch bounds the events that share one commit. Defaults to 128.
	MaxBatch int
	// BlockTimeout bounds BlockConcurrencyWhile. Defaults to 30s.
	BlockTimeout time.Duration
	// Hooks hear of activations, commits and events. Optional.
	Hooks Hooks
	// Tracer makes spans around events and commits. Defaults to a no-op.
	Tracer trace.Tracer
	// Busy hears of events entering (+1) and leaving (-1) the mailboxes:
	// queued or running, an event counts until its caller got its answer
	// (or, abandoned, until it was dropped). Optional.
	Busy func(delta int)
}

func (c *Config) fill() error {
	if c.Store == nil {
		return errors.New("runtime: config: Store: must be set")
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 10 * time.Second
	}
	if c.MaxActive == 0 {
		c.MaxActive = 256
	}
	if c.MaxPending == 0 {
		c.MaxPending = 4096
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 128
	}
	if c.BlockTimeout == 0 {
		c.BlockTimeout = 30 * time.Second
	}
	if c.Hooks == nil {
		c.Hooks = noHooks{}
	}
	if c.Tracer == nil {
		c.Tracer = noop.NewTracerProvider().Tracer("")
	}
	if c.Busy == nil {
		c.Busy = func(int) {}
	}
	if c.MaxActive < 1 || c.MaxPending < 1 || c.MaxBatch < 1 || c.BlockTimeout < 0 {
		return fmt.Errorf("runtime: config: MaxActive, MaxPending, MaxBatch must be ≥ 1 (got %d, %d, %d)", c.MaxActive, c.MaxPending, c.MaxBatch)
	}
	return nil
}

// Class is a registered kind of object.
type Class struct {
	// Name is the class name, valid per ids.ValidClass.
	Name string
	// Concurrent lets events of one object run at the same time.
	Concurrent bool
	// New constructs an instance. It runs in the object's turn, inside an
	// event of its own, so its writes commit atomically before any event.
	New func(ctx context.Context, a *Activation) (any, error)
}

// EventFunc is an event: it runs in the object's turn with the live instance.
// Its output must be held by the caller until Do returns nil (output gate).
type EventFunc func(ctx context.Context, instance any) error

// Runtime activates objects and delivers their events.
type Runtime struct {
	cfg     Config
	log     *slog.Logger
	hooks   Hooks
	tracer  trace.Tracer
	classes sync.Map // string → *Class
	// openDBs counts the objects whose database is open.
	openDBs atomic.Int64

	// ctx is canceled when Close runs out of time: handlers see it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the mailbox goroutines

	mu sync.Mutex // guards the fields below and every object's queue and state
	// objects are the active objects; lru orders them, most recent first.
	objects  map[objKey]*object
	lru      *list.List
	evicting int
	closing  bool
	// changed is closed and replaced whenever an object activates or leaves.
	changed chan struct{}

	closeOnce sync.Once
	closeErr  error
}

type objKey struct {
	class string
	id    ids.ID
}

// New returns a runtime. Register classes before delivering events.
func New(cfg Config) (*Runtime, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Runtime{cfg: cfg, log: cfg.Logger, hooks: cfg.Hooks, tracer: cfg.Tracer, ctx: ctx, cancel: cancel,
		objects: map[objKey]*object{}, lru: list.New(), changed: make(chan struct{})}, nil
}

// Register adds a class. It fails for an invalid or duplicate name.
func (r *Runtime) Register(c *Class) error {
	if err := ids.ValidClass(c.Name); err != nil {
		return err
	}
	if _, dup := r.classes.LoadOrStore(c.Name, c); dup {
		return fmt.Errorf("runtime: class %q is already registered", c.Name)
	}
	return nil
}

// Class returns the registered class of that name.
func (r *Runtime) Class(name string) (*Class, bool) {
	c, ok := r.classes.Load(name)
	if !ok {
		return nil, false
	}
	return c.(*Class), true
}

func (r *Runtime) enqueue(c *Class, ev *event) (*object, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.closing {
			return nil, ErrShuttingDown
		}
		k := objKey{c.Name, ev.ID}
		o := r.objects[k]
		if o == nil || o.leaving {
			o = r.activateLocked(c, ev.ID, o)
		}
		if ev.Name != "" && o.name.Load() == nil {
			o.name.Store(&ev.Name)
		}
		if len(o.queue) < r.cfg.MaxPending {
			o.queue = append(o.queue, ev)
			r.lru.MoveToFront(o.elem)
			r.cfg.Busy(1)
			return o, nil
		}
		if !ev.WaitForRoom {
			return nil, ErrOverloaded
		}
		if err := r.waitRoomLocked(o, ev.ctx); err != nil {
			return nil, err
		}
	}
}

// waitRoomLocked waits, without r.mu, until o takes events from its full
// queue or ctx ends.
func (r *Runtime) waitRoomLocked(o *object, ctx context.Context) error {
	if o.room == nil {
		o.room = make(chan struct{})
	}
	room := o.room
	o.signal()
	r.mu.Unlock()
	defer r.mu.Lock()
	select {
	case <-room:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// activateLocked creates the object and starts its goroutine. prev is an
// instance of the same object that is still leaving: the new one waits for it.
func (r *Runtime) activateLocked(c *Class, id ids.ID, prev *object) *object {
	r.evictLRULocked()
	o := &object{rt: r, class: c, id: id, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if prev != nil {
		o.prev = prev.done
	}
	o.elem = r.lru.PushFront(o)
	r.objects[objKey{c.Name, id}] = o
	r.notifyLocked()
	r.wg.Add(1)
	go o.run()
	return o
}

// evictLRULocked asks the least recently used idle object to leave when the
// active objects reach MaxActive.
func (r *Runtime) evictLRULocked() {
	if len(r.objects)-r.evicting < r.cfg.MaxActive {
		return
	}
	for e := r.lru.Back(); e != nil; e = e.Prev() {
		o := e.Value.(*object)
		if !o.busy && !o.evict && !o.leaving && len(o.queue) == 0 {
			o.evict = true
			r.evicting++
			o.signal()
			return
		}
	}
}

// leaveLocked marks o as leaving: it takes no more events (the next one
// activates a new instance, which waits for o to close its file) and is no
// longer a candidate for eviction. It stays among the active objects until
// its file is closed (see gone).
func (r *Runtime) leaveLocked(o *object) {
	o.leaving = true
	if o.evict {
		r.evicting--
	}
	r.lru.Remove(o.elem)
}

// gone removes o from the active objects once its file is closed.
func (r *Runtime) gone(o *object) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.objects[objKey{o.class.Name, o.id}] == o {
		delete(r.objects, objKey{o.class.Name, o.id})
	}
	r.notifyLocked()
}

func (r *Runtime) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// QueueDepths returns the pending events per class, and the deepest queue
// of a single object.
func (r *Runtime) QueueDepths() (perClass map[string]int, deepest int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	perClass = map[string]int{}
	for k, o := range r.objects {
		n := len(o.queue)
		perClass[k.class] += n
		deepest = max(deepest, n)
	}
	return perClass, deepest
}

// OpenDatabases returns the number of objects whose database file is open.
func (r *Runtime) OpenDatabases() int { return int(r.openDBs.Load()) }

// Active returns the number of objects in memory.
func (r *Runtime) Active() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.objects)
}

// WaitActive blocks until the number of objects in memory satisfies ok, or ctx
// ends. Tests use it instead of sleeping.
func (r *Runtime) WaitActive(ctx context.Context, ok func(n int) bool) error {
	for {
		r.mu.Lock()
		n, ch := len(r.objects), r.changed
		r.mu.Unlock()
		if ok(n) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d active objects: %w", n, ctx.Err())
		}
	}
}

// Close stops accepting events, lets every object finish its queued events
// and commit, and closes their databases. If ctx ends first, the handlers'
// contexts are canceled and Close still waits for the goroutines to end. It is
// safe to call more than once: later calls return the first one's error.
func (r *Runtime) Close(ctx context.Context) error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closing = true
		for _, o := range r.objects {
			o.signal()
		}
		r.mu.Unlock()
		done := make(chan struct{})
		go func() { r.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			r.closeErr = fmt.Errorf("runtime: close: events still running: %w", ctx.Err())
			r.cancel()
			<-done
		}
		r.cancel()
	})
	return r.closeErr
}

// callChain lists the objects whose events are running in a call chain,
// innermost first. Event contexts carry it.
type callChain struct {
	key    objKey
	parent *callChain
}

type chainKey struct{}

func inChain(ctx context.Context, k objKey) bool {
	c, _ := ctx.Value(chainKey{}).(*callChain)
	for ; c != nil; c = c.parent {
		if c.key == k {
			return true
		}
	}
	return false
}

func withChain(ctx context.Context, k objKey) context.Context {
	parent, _ := ctx.Value(chainKey{}).(*callChain)
	return context.WithValue(ctx, chainKey{}, &callChain{key: k, parent: parent})
}

// Context is canceled when the runtime gives up on a graceful close.
func (r *Runtime) Context() context.Context { return r.ctx }

// Evict asks every live object that match selects to leave memory once its
// queued events ran (in cluster mode: the objects of a shard the node hands
// over or lost), and waits until their files are closed or ctx ends.
func (r *Runtime) Evict(ctx context.Context, match func(class string, id ids.ID) bool) error {
	r.mu.Lock()
	var done []chan struct{}
	for k, o := range r.objects {
		if !match(k.class, k.id) {
			continue
		}
		done = append(done, o.done)
		if !o.evict && !o.leaving {
			o.evict = true
			r.evicting++
			o.signal()
		}
	}
	r.mu.Unlock()
	for _, d := range done {
		select {
		case <-d:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// ChainLink names an object in a call chain.
type ChainLink struct {
	Class string
	ID    ids.ID
}

// Chain returns the objects whose events are running in ctx's call chain,
// innermost first: a node forwards it with a call to another node.
func Chain(ctx context.Context) []ChainLink {
	var links []ChainLink
	c, _ := ctx.Value(chainKey{}).(*callChain)
	for ; c != nil; c = c.parent {
		links = append(links, ChainLink{c.key.class, c.key.id})
	}
	return links
}

// WithChain returns ctx carrying a call chain another node forwarded
// (innermost first, as Chain returns it), so that a call that comes back to
// an object of the chain fails with call_cycle on every node.
func WithChain(ctx context.Context, links []ChainLink) context.Context {
	for i := len(links) - 1; i >= 0; i-- {
		ctx = withChain(ctx, objKey{links[i].Class, links[i].ID})
	}
	return ctx
}
