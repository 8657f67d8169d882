package roost_test

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/counter"
	"github.com/roost-dev/roost/internal/clock"
)

// epoch is where the virtual clocks of the tests start.
var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// waitTimeout bounds every wait of a test for something the code under test
// must do, so a bug fails the test instead of hanging it.
const waitTimeout = 30 * time.Second

// testApp is an open App on a temporary directory, driven by a virtual clock.
type testApp struct {
	*roost.App
	Dir   string
	Clock *clock.Virtual
	Cfg   roost.Config
}

// newApp opens an app on a new temporary directory (or cfg.Dir), with a
// virtual clock (unless cfg.Clock is set) and a silent logger, and closes it
// on cleanup.
func newApp(t testing.TB, cfg roost.Config) *testApp {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	vc, _ := cfg.Clock.(*clock.Virtual)
	if cfg.Clock == nil {
		vc = clock.NewVirtual(epoch)
		cfg.Clock = vc
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	app, err := roost.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("roost.Open: %v", err)
	}
	t.Cleanup(func() { closeApp(t, app) })
	return &testApp{App: app, Dir: cfg.Dir, Clock: vc, Cfg: cfg}
}

// reopen closes a and opens a new app with the same configuration on the
// same directory; the new app is closed on cleanup.
func (a *testApp) reopen(t testing.TB) *testApp {
	t.Helper()
	closeApp(t, a.App)
	cfg := a.Cfg
	cfg.Clock = nil
	return newApp(t, cfg)
}

// closeApp closes app (again: Close is idempotent), failing the test on error.
func closeApp(t testing.TB, app *roost.App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := app.Close(ctx); err != nil {
		t.Errorf("close app: %v", err)
	}
}

// idleTimeout is the app's idle timeout with its default filled in.
func (a *testApp) idleTimeout() time.Duration {
	if a.Cfg.IdleTimeout == 0 {
		return 10 * time.Second
	}
	return a.Cfg.IdleTimeout
}

// evictIdle evicts the only object in memory: it waits until the object
// armed its idle timer, advances the virtual clock by the idle timeout and
// waits until the object left memory.
//
// An object may re-arm its timer once without an event (it armed it, then saw
// a stale wake-up and armed it again, a moment later in real time); if the
// clock advanced in between, the new timer is not due yet. So when the object
// arms a timer again instead of leaving, evictIdle advances once more, and
// fails after a few rounds.
func (a *testApp) evictIdle(t testing.TB) {
	t.Helper()
	if n := a.ActiveObjects(); n != 1 {
		t.Fatalf("evictIdle: %d objects in memory, want 1", n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	for range 3 {
		if err := a.Clock.WaitForTimers(ctx, 1); err != nil {
			t.Fatalf("wait for the idle timer: %v", err)
		}
		a.Clock.Advance(a.idleTimeout())
		if a.leftOrArmed(ctx) {
			return
		}
	}
	t.Fatalf("the object is still in memory after advancing the clock by the idle timeout 3 times")
}

// leftOrArmed waits until the only object in memory leaves (true) or arms a
// timer (false), and fails the test if neither happens.
func (a *testApp) leftOrArmed(ctx context.Context) bool {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	left := make(chan error, 1)
	go func() {
		left <- a.WaitActiveObjects(ctx, func(n int) bool { return n == 0 })
		stop()
	}()
	a.Clock.WaitForTimers(ctx, 1) // or canceled once the object left
	stop()
	return <-left == nil
}

// dbFiles returns the object database files beneath dir, relative to it.
func dbFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".spare" {
			return fs.SkipDir // new objects' files made ahead: no objects
		}
		if !d.IsDir() && strings.HasSuffix(path, ".db") && d.Name() != "catalog.db" {
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return files
}

// obj is the object class of most tests. What it does is a script the test
// sends with each in-process call ([class.run]), or, through the gateway, the
// route registered for the request's path.
type obj struct {
	st     *roost.State
	gen    int64 // which construction of the object this instance is: 1 for the first
	n      int   // a plain field, for tests of in-memory state and turn-taking
	routes map[string]route
}

// script is one event of an obj, sent by [class.run].
type script func(ctx context.Context, o *obj) error

// route handles requests for one path of an obj.
type route func(o *obj, w http.ResponseWriter, r *http.Request) error

type scriptKey struct{}

func (o *obj) Fetch(w http.ResponseWriter, r *http.Request) error {
	if fn, ok := r.Context().Value(scriptKey{}).(script); ok {
		return fn(r.Context(), o)
	}
	if h, ok := o.routes[r.URL.Path]; ok {
		return h(o, w, r)
	}
	roost.WriteError(w, roost.NewError("not_found", "no route "+r.URL.Path))
	return nil
}

// class is a registered obj class.
type class struct {
	*roost.Namespace
	// constructs counts constructor runs, over all objects of the class.
	constructs atomic.Int64
}

// registerObj registers an obj class named name, with routes for the
// gateway (may be nil).
func registerObj(app *testApp, name string, routes map[string]route) *class {
	return registerObjWithOptions(app, name, routes, nil)
}

func registerObjWithOptions(app *testApp, name string, routes map[string]route, opts *roost.ClassOptions) *class {
	c := &class{}
	c.Namespace = roost.RegisterWithOptions(app.App, name, func(st *roost.State) (*obj, error) {
		return &obj{st: st, gen: c.constructs.Add(1), routes: routes}, nil
	}, opts)
	return c
}

// run sends fn as an event to the object named name and returns the event's
// error. It is safe to call from any goroutine.
func (c *class) run(ctx context.Context, name string, fn script) error {
	ctx = context.WithValue(ctx, scriptKey{}, fn)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
	if err != nil {
		return err
	}
	resp, err := c.Get(c.IDFromName(name)).Fetch(ctx, req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// mustRun is run that fails the test on error.
func (c *class) mustRun(t testing.TB, name string, fn script) {
	t.Helper()
	if err := c.run(t.Context(), name, fn); err != nil {
		t.Fatalf("event of %s/%s: %v (code %s)", c.Class(), name, err, roost.ErrorCode(err))
	}
}

// registerCounter registers the example counter class under name and counts
// its constructor runs.
func registerCounter(app *testApp, name string) (*roost.Namespace, *atomic.Int64) {
	var constructs atomic.Int64
	ns := roost.Register(app.App, name, func(st *roost.State) (*counter.Counter, error) {
		constructs.Add(1)
		return counter.New(st)
	})
	return ns, &constructs
}

// response is an HTTP answer, read in full.
type response struct {
	status int
	header http.Header
	body   string
}

// serve starts a loopback HTTP server for the app's gateway, closed on
// cleanup.
func serve(t testing.TB, app *testApp) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// send makes an HTTP request and reads the whole answer. It is safe to call
// from any goroutine.
func send(ctx context.Context, client *http.Client, method, url, body string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// do sends a request to the server and fails the test if there is no answer.
func do(t testing.TB, srv *httptest.Server, method, path, body string) response {
	t.Helper()
	res, err := send(t.Context(), srv.Client(), method, srv.URL+path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return res
}

// fetch sends an HTTP event through a stub and reads the whole answer. It is
// safe to call from any goroutine.
func fetch(ctx context.Context, stub *roost.Stub, method, path, body string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	resp, err := stub.Fetch(ctx, req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// wantError fails the test unless res is Roost's JSON error with status and
// code.
func wantError(t testing.TB, res response, status int, code string) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(res.body), &e); err != nil {
		t.Fatalf("status %d, body %q: not a JSON error: %v", res.status, res.body, err)
	}
	if res.status != status || e.Error.Code != code {
		t.Fatalf("got %d %q (%s), want %d %q", res.status, e.Error.Code, e.Error.Message, status, code)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if e.Error.Message == "" {
		t.Error("error message is empty")
	}
}

// counterValue decodes the counter's answer {"value":N}.
func counterValue(t testing.TB, res response) int64 {
	t.Helper()
	if res.status != http.StatusOK {
		t.Fatalf("counter answered %d: %s", res.status, res.body)
	}
	var v struct {
		Value *int64 `json:"value"`
	}
	if err := json.Unmarshal([]byte(res.body), &v); err != nil || v.Value == nil {
		t.Fatalf("counter answered %q: want {\"value\":N} (%v)", res.body, err)
	}
	return *v.Value
}

// wantCode fails the test unless err has the stable code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want code %s", code)
	}
	if got := roost.ErrorCode(err); got != code {
		t.Fatalf("error %q has code %s, want %s", err, got, code)
	}
}
