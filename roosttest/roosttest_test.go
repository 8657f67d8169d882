package roosttest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/room"
	"github.com/roost-dev/roost/roosttest"
	"github.com/roost-dev/roost/workflow"
)

// TestMain fails the package if a test leaves a goroutine behind: the
// harness must close its app, engine, server and sockets.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Timer is a test class: POST /hit counts in memory and in storage,
// POST /alarm?in=1h sets its alarm, whose run records when it fired and
// re-arms it for the same delay while "repeat" is above zero.
type Timer struct {
	st   *roost.State
	hits int // in memory only: gone after a restart
}

func NewTimer(st *roost.State) (*Timer, error) { return &Timer{st: st}, nil }

func (o *Timer) Fetch(w http.ResponseWriter, r *http.Request) error {
	ctx, kv := r.Context(), o.st.Storage()
	switch r.URL.Path {
	case "/hit":
		o.hits++
		stored, err := o.add(ctx, "hits", 1)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "memory=%d stored=%d", o.hits, stored)
	case "/alarm":
		d, err := time.ParseDuration(r.URL.Query().Get("in"))
		if err != nil {
			roost.WriteError(w, roost.NewError("bad_request", err.Error()))
			return nil
		}
		if err := kv.Put(ctx, "delay", []byte(d.String())); err != nil {
			return err
		}
		if _, err := o.add(ctx, "repeat", len(r.URL.Query().Get("repeat"))); err != nil {
			return err
		}
		if err := kv.SetAlarm(ctx, o.st.Now().Add(d)); err != nil {
			return err
		}
		fmt.Fprint(w, "set")
	default:
		roost.WriteError(w, roost.NewError("not_found", r.URL.Path))
	}
	return nil
}

func (o *Timer) Alarm(ctx context.Context, _ roost.AlarmInfo) error {
	kv := o.st.Storage()
	n, err := o.add(ctx, "fired", 1)
	if err != nil {
		return err
	}
	if err := kv.Put(ctx, fmt.Sprint("fired-", n), []byte(o.st.Now().Format(time.RFC3339))); err != nil {
		return err
	}
	left, err := o.add(ctx, "repeat", -1)
	if err != nil || left < 0 {
		return err
	}
	b, _, err := kv.Get(ctx, "delay")
	if err != nil {
		return err
	}
	d, _ := time.ParseDuration(string(b))
	return kv.SetAlarm(ctx, o.st.Now().Add(d))
}

// add adds n to the counter under key and returns its new value.
func (o *Timer) add(ctx context.Context, key string, n int) (int, error) {
	kv := o.st.Storage()
	b, _, err := kv.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	var v int
	if len(b) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			return 0, err
		}
	}
	v += n
	return v, kv.Put(ctx, key, fmt.Append(nil, v))
}

// Fired is an RPC method: the times the alarm fired.
func (o *Timer) Fired(ctx context.Context, _ struct{}) ([]string, error) {
	kv := o.st.Storage()
	var out []string
	for i := 1; ; i++ {
		b, ok, err := kv.Get(ctx, fmt.Sprint("fired-", i))
		if err != nil || !ok {
			return out, err
		}
		out = append(out, string(b))
	}
}

var Fired = roost.NewMethod("fired", (*Timer).Fired)

// newTimers opens an env with the class "timer"; *ns is the namespace of
// the app open now.
func newTimers(t *testing.T, opts ...roosttest.Option) (*roosttest.Env, **roost.Namespace) {
	ns := new(*roost.Namespace)
	env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
		*ns = roost.RegisterWithOptions(app, "timer", NewTimer, &roost.ClassOptions{Methods: []roost.MethodHandler{Fired}})
	}, opts...)
	return env, ns
}

func fired(t *testing.T, ns *roost.Namespace, name string) []string {
	t.Helper()
	out, err := Fired.Call(t.Context(), ns.GetByName(name), struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantHTTP(t *testing.T, env *roosttest.Env, method, path string, status int, body string) {
	t.Helper()
	if s, b := env.HTTP(method, path, ""); s != status || b != body {
		t.Fatalf("%s %s: %d %q, want %d %q", method, path, s, b, status, body)
	}
}

func TestAlarmFiresWhenTheClockIsAdvanced(t *testing.T) {
	env, ns := newTimers(t)
	wantHTTP(t, env, "POST", "/timer/a/alarm?in=1h", 200, "set")
	env.Advance(time.Hour - time.Second)
	if got := fired(t, *ns, "a"); len(got) != 0 {
		t.Fatalf("fired before its time: %v", got)
	}
	env.Advance(time.Second)
	var got []string
	env.WaitUntil(func() bool { got = fired(t, *ns, "a"); return len(got) > 0 })
	if want := roosttest.Epoch.Add(time.Hour).Format(time.RFC3339); len(got) != 1 || got[0] != want {
		t.Fatalf("fired at %v, want [%s]", got, want)
	}
	if !env.Now().Equal(roosttest.Epoch.Add(time.Hour)) {
		t.Fatalf("the clock reads %s", env.Now())
	}
}

// Each alarm sets the next, a minute after its run. How far past its due
// time a run sees the clock depends on how soon it ran in real time (see
// Env.Advance): each fires at least a minute after the one before.
func TestAdvanceUntilFiresAChainOfAlarms(t *testing.T) {
	start := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	env, ns := newTimers(t, roosttest.WithStart(start))
	wantHTTP(t, env, "POST", "/timer/c/alarm?in=1m&repeat=xxxx", 200, "set") // fires 5 times
	var got []string
	moved := env.AdvanceUntil(func() bool { got = fired(t, *ns, "c"); return len(got) == 5 }, 10*time.Second, time.Hour)
	prev := start
	for i, s := range got {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil || at.Before(prev.Add(time.Minute)) {
			t.Fatalf("fire %d at %s, less than a minute after %s (all: %v)", i+1, s, prev, got)
		}
		prev = at
	}
	if moved < 5*time.Minute || moved > time.Hour || env.Now().Before(prev) {
		t.Fatalf("moved the clock by %s to %s; the last fire at %s", moved, env.Now(), prev)
	}
}

func TestStorageSurvivesARestartAndMemoryDoesNot(t *testing.T) {
	env, ns := newTimers(t)
	wantHTTP(t, env, "POST", "/timer/r/hit", 200, "memory=1 stored=1")
	wantHTTP(t, env, "POST", "/timer/r/hit", 200, "memory=2 stored=2")
	wantHTTP(t, env, "POST", "/timer/r/alarm?in=1h", 200, "set")
	url, old := env.URL(), *ns
	env.Advance(30 * time.Minute)
	env.Restart()
	if env.URL() != url || *ns == old {
		t.Fatalf("after the restart: URL %s (was %s), namespace renewed %v", env.URL(), url, *ns != old)
	}
	wantHTTP(t, env, "POST", "/timer/r/hit", 200, "memory=1 stored=3")
	// The alarm set before the restart fires at its time.
	env.Advance(30*time.Minute - time.Second)
	if got := fired(t, *ns, "r"); len(got) != 0 {
		t.Fatalf("fired early: %v", got)
	}
	env.AdvanceUntil(func() bool { return len(fired(t, *ns, "r")) == 1 }, time.Second, time.Minute)
}

func TestHTTPErrorsAndConfig(t *testing.T) {
	env, _ := newTimers(t, roosttest.WithConfig(func(cfg *roost.Config) {
		cfg.MaxBodyBytes = 8
		cfg.Dir = "/nonexistent" // ignored
	}))
	if s, b := env.HTTP("GET", "/timer/x/nope", ""); s != 404 || !strings.Contains(b, `"not_found"`) {
		t.Fatalf("unknown route: %d %s", s, b)
	}
	if s, b := env.HTTP("GET", "/nothing/x/", ""); s != 404 || !strings.Contains(b, `"unknown_class"`) {
		t.Fatalf("unknown class: %d %s", s, b)
	}
	if s, b := env.HTTP("POST", "/timer/x/hit", strings.Repeat("x", 100)); s != 413 {
		t.Fatalf("body over MaxBodyBytes: %d %s", s, b)
	}
	if !strings.HasPrefix(env.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %s", env.URL())
	}
}

func TestWebSocketsThroughRestarts(t *testing.T) {
	env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) { room.Register(app, "room") })
	a, b := env.DialWS("/room/lobby"), env.DialWS("/room/lobby")
	if err := a.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*websocket.Conn{a, b} {
		if got := read(t, c); got != "hello" {
			t.Fatalf("got %q", got)
		}
	}
	env.Restart()
	a.SetReadDeadline(time.Now().Add(roosttest.WaitTimeout))
	if _, _, err := a.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("a socket across a restart: %v, want close 1001", err)
	}
	c := env.DialWS("/room/lobby")
	if err := c.WriteMessage(websocket.TextMessage, []byte("again")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != "again" {
		t.Fatalf("got %q", got)
	}
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(roosttest.WaitTimeout))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func TestWorkflowSleepsAcrossARestart(t *testing.T) {
	var runs atomic.Int32
	var nap *workflow.Workflow[string, string]
	env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
		nap = workflow.Define(env.Workflows(), "nap", func(ctx workflow.Context, who string) (string, error) {
			if err := workflow.Sleep(ctx, "nap", time.Hour); err != nil {
				return "", err
			}
			return workflow.Step(ctx, "wake", func(workflow.StepContext) (string, error) {
				runs.Add(1)
				return who + " woke up", nil
			})
		})
	})
	inst, _, err := nap.Create(t.Context(), "n1", "ada")
	if err != nil {
		t.Fatal(err)
	}
	status := func() string {
		st, err := inst.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return st.Status
	}
	env.WaitUntil(func() bool { return status() == workflow.StatusSleeping })
	env.Restart()
	inst = nap.Get("n1") // nap is the new app's
	env.Advance(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), roosttest.WaitTimeout)
	defer cancel()
	st, err := inst.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := nap.Output(st); err != nil || out != "ada woke up" || runs.Load() != 1 {
		t.Fatalf("output %q, %v after %d runs", out, err, runs.Load())
	}
	// The engine's HTTP API is mounted.
	if s, b := env.HTTP("GET", "/workflows/nap/instances/n1", ""); s != 200 || !strings.Contains(b, `"complete"`) {
		t.Fatalf("status over HTTP: %d %s", s, b)
	}
}

func TestDeferredClosersRunLastFirstBeforeTheApp(t *testing.T) {
	var mu sync.Mutex
	var order []string
	opens := 0
	env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
		opens++
		n := opens
		for _, name := range []string{"first", "second"} {
			env.Defer(func(ctx context.Context) error {
				mu.Lock()
				defer mu.Unlock()
				if env.App() != app {
					order = append(order, "app closed too early")
				}
				order = append(order, fmt.Sprint(name, n))
				return nil
			})
		}
	})
	env.Restart()
	mu.Lock()
	got := strings.Join(order, " ")
	mu.Unlock()
	if got != "second1 first1" || opens != 2 {
		t.Fatalf("closers ran %q, setup %d times", got, opens)
	}
}

func TestClockWithoutAnApp(t *testing.T) {
	c := roosttest.NewClock(roosttest.Epoch)
	var fired []time.Time
	c.AfterFunc(2*time.Second, func() { fired = append(fired, c.Now()) })
	c.AfterFunc(time.Second, func() { fired = append(fired, c.Now()) })
	if c.Pending() != 2 {
		t.Fatalf("%d pending", c.Pending())
	}
	c.Advance(time.Minute)
	if len(fired) != 2 || !fired[0].Equal(roosttest.Epoch.Add(time.Second)) || !fired[1].Equal(roosttest.Epoch.Add(2*time.Second)) {
		t.Fatalf("fired at %v", fired)
	}
	tm := c.NewTimer(time.Second)
	c.Set(roosttest.Epoch.Add(time.Hour))
	if at := <-tm.C(); !at.Equal(roosttest.Epoch.Add(time.Minute + time.Second)) {
		t.Fatalf("timer at %s", at)
	}
}

// The harness takes the t of a test, a benchmark or a fuzz target.
var (
	_ roosttest.TB = (*testing.T)(nil)
	_ roosttest.TB = (*testing.B)(nil)
	_ roosttest.TB = (*testing.F)(nil)
)

// captured is what Run did under runCaptured.
type captured struct {
	passed         bool
	stdout, stderr string
	panic          any // what Run panicked with
}

// runCaptured calls Run with fn while standard output and standard error go
// to files. It swaps os.Stdout and os.Stderr, so its tests do not run in
// parallel.
func runCaptured(t *testing.T, fn func(tb roosttest.TB)) (c captured) {
	t.Helper()
	dir := t.TempDir()
	files := make([]*os.File, 2)
	for i, name := range []string{"stdout", "stderr"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[i] = f
	}
	read := func(f *os.File) string {
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Error(err)
		}
		return string(b)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	defer func() {
		os.Stdout, os.Stderr = oldOut, oldErr
		c.panic = recover()
		c.stdout, c.stderr = read(files[0]), read(files[1])
	}()
	os.Stdout, os.Stderr = files[0], files[1]
	c.passed = roosttest.Run(fn)
	return c
}

func TestRun_PassesAndLogsToStderrOnly(t *testing.T) {
	c := runCaptured(t, func(tb roosttest.TB) {
		tb.Helper()
		tb.Log("hello", 1)
		tb.Logf("n=%d\n", 2)
		fmt.Fprintln(tb.Output(), "raw")
	})
	want := "roosttest_test.runCaptured: hello 1\nroosttest_test.runCaptured: n=2\nraw\n"
	if !c.passed || c.stdout != "" || c.stderr != want {
		t.Fatalf("passed %v, stdout %q, stderr %q; want true, nothing, %q", c.passed, c.stdout, c.stderr, want)
	}
}

func TestRun_FatalEndsTheGoroutineAndEveryCleanupRunsLastFirst(t *testing.T) {
	var order []string
	c := runCaptured(t, func(tb roosttest.TB) {
		for _, name := range []string{"first", "second", "third"} {
			tb.Cleanup(func() {
				if tb.Context().Err() == nil {
					order = append(order, "(context not canceled)")
				}
				order = append(order, name)
				if name == "second" {
					tb.Fatal("a cleanup fails")
					order = append(order, "(after the cleanup's Fatal)")
				}
			})
		}
		tb.Fatalf("stop at %d", 1)
		order = append(order, "(after Fatal)")
	})
	if got := strings.Join(order, " "); c.passed || got != "third second first" {
		t.Fatalf("passed %v, ran %q; want false, %q", c.passed, got, "third second first")
	}
	if !strings.Contains(c.stderr, ": stop at 1\n") || !strings.Contains(c.stderr, ": a cleanup fails\n") {
		t.Fatalf("stderr %q", c.stderr)
	}
}

func TestRun_ErrorMarksTheFailureAndGoesOn(t *testing.T) {
	wentOn := false
	c := runCaptured(t, func(tb roosttest.TB) {
		if tb.Failed() {
			t.Error("failed before any error")
		}
		tb.Errorf("bad %s", "thing")
		tb.Error("worse")
		wentOn = tb.Failed()
	})
	if c.passed || !wentOn || !strings.Contains(c.stderr, ": bad thing\n") || !strings.Contains(c.stderr, ": worse\n") {
		t.Fatalf("passed %v, went on failed %v, stderr %q", c.passed, wentOn, c.stderr)
	}
}

func TestRun_GoexitFails(t *testing.T) {
	c := runCaptured(t, func(roosttest.TB) { runtime.Goexit() })
	if c.passed || !strings.Contains(c.stderr, "runtime.Goexit") {
		t.Fatalf("passed %v, stderr %q", c.passed, c.stderr)
	}
}

func TestRun_PanicRunsTheCleanupsThenPanics(t *testing.T) {
	cleaned := false
	c := runCaptured(t, func(tb roosttest.TB) {
		tb.Cleanup(func() { cleaned = true })
		panic("boom")
	})
	if c.panic != "boom" || !cleaned || !strings.Contains(c.stderr, ": panic: boom\n") {
		t.Fatalf("Run panicked with %v, cleaned %v, stderr %q", c.panic, cleaned, c.stderr)
	}
}

func TestRun_NameIsTheCaller(t *testing.T) {
	var name string
	roosttest.Run(func(tb roosttest.TB) { name = tb.Name() })
	if name != "roosttest_test.TestRun_NameIsTheCaller" {
		t.Fatalf("Name %q", name)
	}
}

func TestRun_RemovesTempDirsAndClosesAnEnv(t *testing.T) {
	var dirs []string
	passed := roosttest.Run(func(tb roosttest.TB) {
		a, b := tb.TempDir(), tb.TempDir()
		if a == b {
			tb.Fatalf("TempDir returned %s twice", a)
		}
		if err := os.WriteFile(filepath.Join(a, "f"), []byte("x"), 0o600); err != nil {
			tb.Fatal(err)
		}
		env := roosttest.New(tb, func(app *roost.App, env *roosttest.Env) { room.Register(app, "room") })
		env.DialWS("/room/r") // closed with the env
		dirs = append(dirs, a, b, env.Dir())
	})
	if !passed || len(dirs) != 3 {
		t.Fatalf("passed %v, dirs %v", passed, dirs)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after Run: %v, want it removed", d, err)
		}
	}
}
