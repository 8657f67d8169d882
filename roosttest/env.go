package roosttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/workflow"
)

// WaitTimeout bounds each real-time wait of the harness: for a condition
// ([Env.WaitUntil], [Env.AdvanceUntil]), for an HTTP request or a WebSocket
// handshake, for the app to close. A bug fails the test after it instead of
// hanging it.
const WaitTimeout = 30 * time.Second

// poll is how often the waits of the harness check their condition.
const poll = time.Millisecond

// Option configures an [Env].
type Option func(*options)

type options struct {
	start     time.Time
	config    func(*roost.Config)
	level     *slog.Level
	workflows workflow.Options
}

// WithStart makes the clock start at t instead of [Epoch].
func WithStart(t time.Time) Option { return func(o *options) { o.start = t } }

// WithConfig lets fn change the app's configuration before each open (the
// harness sets Dir, Clock and Logger first; changes to Dir and Clock are
// ignored). Use it for limits and timeouts: IdleTimeout, TimerRetry, ….
func WithConfig(fn func(cfg *roost.Config)) Option { return func(o *options) { o.config = fn } }

// WithWorkflows sets the options of the engine [Env.Workflows] makes.
func WithWorkflows(opts workflow.Options) Option { return func(o *options) { o.workflows = opts } }

// WithLogs sends the app's log records of level and above to the test's log
// (shown for failed tests and with go test -v). Without it, the environment
// variable ROOSTTEST_LOG decides (see the package documentation).
func WithLogs(level slog.Level) Option { return func(o *options) { o.level = &level } }

// Env is a Roost app under test: see the package documentation. Make one
// with [New]. Its methods are for the test's goroutine (they fail the test
// with t.Fatal); App, Clock, Now, Dir and URL may be called from any
// goroutine, but not while Restart runs.
type Env struct {
	t     TB
	dir   string
	clock *Clock
	setup func(app *roost.App, env *Env)
	opts  options
	log   *slog.Logger
	logw  *testWriter

	app     *roost.App
	engine  *workflow.Engine
	closers []func(ctx context.Context) error

	mu      sync.Mutex
	current http.Handler // the open app's handler; nil while it is closed
	srv     *httptest.Server
}

// New opens an app on a new temporary directory (t.TempDir) with a virtual
// clock, calls setup with it, and closes it when the test ends. setup
// registers the app's classes and defines its workflows; it runs again
// after each [Env.Restart]. New fails the test if the app does not open.
// t is the test's *testing.T, *testing.B or *testing.F, or the [TB] that
// [Run] passes outside go test.
func New(t TB, setup func(app *roost.App, env *Env), opts ...Option) *Env {
	t.Helper()
	e := &Env{t: t, dir: t.TempDir(), setup: setup, opts: options{start: Epoch}}
	for _, o := range opts {
		o(&e.opts)
	}
	e.clock = NewClock(e.opts.start)
	e.log = slog.New(slog.DiscardHandler)
	if level, ok := e.logLevel(); ok {
		e.logw = &testWriter{t: t}
		e.log = slog.New(slog.NewTextHandler(e.logw, &slog.HandlerOptions{Level: level}))
	}
	t.Cleanup(e.cleanup)
	e.open()
	return e
}

// logLevel is the level of the logs that go to the test's log, if any do.
func (e *Env) logLevel() (slog.Level, bool) {
	if e.opts.level != nil {
		return *e.opts.level, true
	}
	s := os.Getenv("ROOSTTEST_LOG")
	switch s {
	case "", "0", "off":
		return 0, false
	case "1":
		return slog.LevelDebug, true
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		e.t.Logf("roosttest: ROOSTTEST_LOG=%q is not a level (debug, info, warn, error): logging at debug", s)
		return slog.LevelDebug, true
	}
	return l, true
}

// App returns the app open now; after [Env.Restart], another one.
func (e *Env) App() *roost.App { return e.app }

// T returns the test the env was made for, for helpers that take only the
// env.
func (e *Env) T() TB { return e.t }

// Clock returns the app's virtual clock. It stays the same across restarts.
func (e *Env) Clock() *Clock { return e.clock }

// Dir returns the app's data directory.
func (e *Env) Dir() string { return e.dir }

// Now returns the clock's time.
func (e *Env) Now() time.Time { return e.clock.Now() }

func (e *Env) open() {
	e.t.Helper()
	cfg := roost.Config{Dir: e.dir, Clock: e.clock, Logger: e.log}
	if e.opts.config != nil {
		e.opts.config(&cfg)
		cfg.Dir, cfg.Clock = e.dir, e.clock
	}
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	app, err := roost.Open(ctx, cfg)
	if err != nil {
		e.t.Fatalf("roosttest: open the app: %v", err)
	}
	e.app = app
	if e.setup != nil {
		e.setup(app, e)
	}
	e.mu.Lock()
	e.current = app.Handler()
	e.mu.Unlock()
}

// close runs the closers, last deferred first, then closes the app; it
// reports their errors on the test.
func (e *Env) close() {
	e.t.Helper()
	if e.app == nil {
		return
	}
	e.mu.Lock()
	e.current = nil
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		errs = append(errs, e.closers[i](ctx))
	}
	errs = append(errs, e.app.Close(ctx))
	e.app, e.engine, e.closers = nil, nil, nil
	if err := errors.Join(errs...); err != nil {
		e.t.Errorf("roosttest: close the app: %v", err)
	}
}

func (e *Env) cleanup() {
	e.close()
	e.mu.Lock()
	srv := e.srv
	e.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	if e.logw != nil {
		e.logw.stop()
	}
}

// Restart closes the app as a program's shutdown does (closers first, see
// [Env.Defer]; events in flight finish) and opens it again on the same
// directory and clock, then calls setup. In-memory state is gone, storage is
// kept. Stubs, namespaces and workflow handles of the old app are dead:
// take new ones (setup can store them in the test's variables). The HTTP
// server keeps its URL; its WebSockets to the old app are closed (1001).
func (e *Env) Restart() {
	e.t.Helper()
	e.close()
	e.open()
}

// Defer registers fn to run when the app open now closes (at Restart and at
// the end of the test), before the app itself, last registered first. fn
// gets a context bounded by [WaitTimeout]; an error fails the test. Use it
// for what the program's shutdown closes before the app.
func (e *Env) Defer(fn func(ctx context.Context) error) {
	e.closers = append(e.closers, fn)
}

// Workflows returns the workflow engine of the app open now, made at the
// first call after each open: its HTTP API is mounted at [workflow.Prefix]
// and it is closed (Defer) before the app; [WithWorkflows] sets its
// options. Call it in setup to define the workflows, so that they are
// defined again after a restart.
func (e *Env) Workflows() *workflow.Engine {
	if e.engine == nil {
		eng := workflow.NewWithOptions(e.app, e.opts.workflows)
		e.app.Handle(workflow.Prefix, eng.Handler())
		e.Defer(eng.Close)
		e.engine = eng
	}
	return e.engine
}

// Advance waits until the app is idle (what the test set off before, such
// as a workflow that has yet to reach its sleep, runs at the old time),
// moves the clock forward by d, then waits until the app is idle again:
// every timer due by the new time has fired ([Clock.Advance]), and the work
// those fires woke (an alarm's handler, a workflow's run, and what they
// set off in turn: an alarm set for now, a workflow's next step) has
// finished and committed. The woken work sees Now somewhere between its
// due time and the new time, usually the new time: as after a machine
// slept for d.
//
// A timer that the woken work arms for later than the new time fires at a
// later Advance, even one due before the new time that was armed after its
// moment passed: to fire a chain of wakes that each wait (an alarm that
// sets the next), advance in steps or use [Env.AdvanceUntil].
//
// Advance fails the test if the app does not become idle within
// [WaitTimeout] (a handler that never returns, say).
func (e *Env) Advance(d time.Duration) {
	e.t.Helper()
	e.waitIdle()
	e.clock.Advance(d)
	e.waitIdle()
}

// waitIdle waits until the app open now is idle (see [roost.App.WaitIdle]).
func (e *Env) waitIdle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	if err := e.app.WaitIdle(ctx); err != nil {
		e.t.Fatalf("roosttest: the app did not become idle: %v", err)
	}
}

// AdvanceUntil moves the clock forward by step at a time until cond holds,
// by limit at most, waiting after each step until the app is idle (as
// Advance does), and returns how far it moved the clock. cond is checked
// before the first step. After limit, it waits for cond in real time like
// WaitUntil. It fails the test if cond never holds, or if [WaitTimeout] of
// real time passes. For waits whose wakes depend on when earlier work ran:
// a retry after a retry, a timeout counted from a run's start, an alarm
// that sets the next.
func (e *Env) AdvanceUntil(cond func() bool, step, limit time.Duration) time.Duration {
	e.t.Helper()
	if step <= 0 {
		e.t.Fatalf("roosttest: AdvanceUntil: step %s is not positive", step)
	}
	deadline := time.Now().Add(WaitTimeout)
	var moved time.Duration
	for moved < limit && time.Now().Before(deadline) {
		e.waitIdle()
		if cond() {
			return moved
		}
		e.clock.Advance(min(step, limit-moved))
		moved += min(step, limit-moved)
	}
	if e.pollFor(cond, time.Until(deadline)) {
		return moved
	}
	e.t.Fatalf("roosttest: AdvanceUntil: the condition did not hold after advancing the clock by %s (now %s)", moved, e.clock.Now().Format(time.RFC3339Nano))
	return moved
}

// WaitUntil waits until cond holds, checking it every millisecond, without
// moving the clock. It fails the test if cond does not hold within
// [WaitTimeout].
func (e *Env) WaitUntil(cond func() bool) {
	e.t.Helper()
	if !e.pollFor(cond, WaitTimeout) {
		e.t.Fatalf("roosttest: WaitUntil: the condition did not hold within %s (clock at %s)", WaitTimeout, e.clock.Now().Format(time.RFC3339Nano))
	}
}

// pollFor checks cond every poll until it holds (true) or d passed. The
// condition is the test's: it has no signal to wait for.
func (e *Env) pollFor(cond func() bool, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			return cond()
		}
	}
	return true
}

// server returns the HTTP server, started at the first call.
func (e *Env) server() *httptest.Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv == nil {
		e.srv = httptest.NewServer(http.HandlerFunc(e.serveHTTP))
	}
	return e.srv
}

// serveHTTP hands the request to the app open now.
func (e *Env) serveHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	h := e.current
	e.mu.Unlock()
	if h == nil {
		roost.WriteError(w, roost.ErrShuttingDown)
		return
	}
	h.ServeHTTP(w, r)
}

// URL returns the base URL of the HTTP server in front of the app
// (http://127.0.0.1:port), the same across restarts. The server starts at
// the first call of URL, Client, HTTP or DialWS.
func (e *Env) URL() string { return e.server().URL }

// Client returns an HTTP client for the server ([Env.URL]).
func (e *Env) Client() *http.Client { return e.server().Client() }

// HTTP makes a request to the app through its server: method, path (with
// its query, from the root: "/counter/a/increment") and a body (none if
// empty). It returns the response's status and body, and fails the test if
// the request cannot be made or gets no answer within [WaitTimeout].
func (e *Env) HTTP(method, path, body string) (status int, respBody string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.URL()+path, r)
	if err != nil {
		e.t.Fatalf("roosttest: HTTP %s %s: %v", method, path, err)
	}
	resp, err := e.Client().Do(req)
	if err != nil {
		e.t.Fatalf("roosttest: HTTP %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("roosttest: HTTP %s %s: read the body: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

// DialWS opens a WebSocket to path ("/room/lobby") on the app's server and
// closes it when the test ends. It fails the test if the handshake fails.
// Set read deadlines on the connection: a read that waits for a message
// that never comes otherwise hangs the test.
func (e *Env) DialWS(path string) *websocket.Conn {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	url := "ws" + strings.TrimPrefix(e.URL(), "http") + path
	c, resp, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		status := ""
		if resp != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			status = fmt.Sprintf(" (%s: %s)", resp.Status, b)
		}
		e.t.Fatalf("roosttest: DialWS %s: %v%s", path, err, status)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// testWriter writes log records to the test's output until stop: a
// record written after the test ended would panic.
type testWriter struct {
	mu      sync.Mutex
	t       TB
	stopped bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Output().Write(p)
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}
