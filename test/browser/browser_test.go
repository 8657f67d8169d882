// Package browser_test drives the chat demo (examples/chat) in headless
// chromium through chromedp: two people chat in one room, one reloads and
// gets the history, and the room hibernates and wakes up with its sockets
// intact. The tests need chromium on PATH (.ci/run installs it); without it
// they fail.
package browser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/chat"
	"github.com/roost-dev/roost/internal/clock"
)

// waitTimeout bounds every wait for the browser or the app, so a bug fails
// the test instead of hanging it.
const waitTimeout = 30 * time.Second

// idleTimeout is the app's idle timeout; the test advances its virtual clock
// by it to make every object leave memory.
const idleTimeout = time.Minute

// TestMain fails the package if a test leaves a goroutine behind: a
// connection of the server, an object's mailbox, a reader of the browser.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestChat_TwoBrowsersChatAcrossReloadAndHibernation(t *testing.T) {
	t.Parallel()
	srv, alice, bob := twoInTheLobby(t)
	alice.waitPeople("alice", "bob")
	bob.waitPeople("alice", "bob")

	alice.send("hello bob")
	bob.waitMessages("alice: hello bob")
	bob.send("hi alice")
	alice.waitMessages("alice: hello bob", "bob: hi alice")
	bob.waitMessages("alice: hello bob", "bob: hi alice")

	// A reload drops bob's socket and page; joining again brings the room's
	// history back.
	bob.reload()
	bob.waitMessages()
	bob.join("lobby")
	bob.waitMessages("alice: hello bob", "bob: hi alice")
	bob.waitPeople("alice", "bob")
	alice.waitPeople("alice", "bob")

	// The room and the rate limiter of 127.0.0.1 (both people's address) go
	// to sleep; the sockets stay open.
	srv.hibernate(2)
	alice.waitStatus("connected")
	bob.waitStatus("connected")
	alice.send("after nap")
	bob.waitMessages("alice: hello bob", "bob: hi alice", "alice: after nap")
	alice.waitMessages("alice: hello bob", "bob: hi alice", "alice: after nap")
	alice.waitError("")
	bob.waitError("")
}

// After a server restart the page connects again by itself, and shows the
// room as it is then: its history, and only the people still there.
func TestChat_PageReconnectsAfterARestart(t *testing.T) {
	t.Parallel()
	srv, alice, bob := twoInTheLobby(t)
	alice.send("before the restart")
	alice.waitPeople("alice", "bob")
	bob.waitMessages("alice: before the restart")

	srv.stop()
	alice.waitStatus("reconnecting")
	bob.do("leave", chromedp.Navigate("about:blank")) // bob leaves while the server is down
	srv.start()

	alice.waitStatus("connected")
	alice.waitPeople("alice")
	alice.waitMessages("alice: before the restart")
	alice.send("after the restart")
	alice.waitMessages("alice: before the restart", "alice: after the restart")
	alice.waitError("")
}

// twoInTheLobby starts the chat and a browser whose two tabs, alice's and
// bob's, joined the room "lobby".
func twoInTheLobby(t *testing.T) (*chatServer, *tab, *tab) {
	t.Helper()
	srv := startChat(t)
	browser := newBrowser(t)
	alice := newTab(t, browser, "alice")
	bob := newTab(t, browser, "bob")
	alice.open(srv.url)
	alice.join("lobby")
	bob.open(srv.url)
	bob.join("lobby")
	return srv, alice, bob
}

// chatServer is an App with the chat demo, served over HTTP on loopback.
type chatServer struct {
	t   testing.TB
	dir string
	vc  *clock.Virtual
	url string
	app *roost.App
	srv *httptest.Server
}

// startChat opens an App on a temporary directory with a virtual clock,
// registers the chat demo and serves it on 127.0.0.1; everything is closed
// on cleanup.
func startChat(t testing.TB) *chatServer {
	t.Helper()
	s := &chatServer{t: t, dir: t.TempDir(), vc: clock.NewVirtual(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))}
	s.serve(nil)
	return s
}

// serve opens the app on the server's directory and serves it on ln (a new
// loopback port if nil).
func (s *chatServer) serve(ln net.Listener) {
	s.t.Helper()
	app, err := roost.Open(context.Background(), roost.Config{
		Dir:         s.dir,
		Clock:       s.vc,
		IdleTimeout: idleTimeout,
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		s.t.Fatalf("roost.Open: %v", err)
	}
	s.t.Cleanup(func() { s.closeApp(app) })
	chat.Register(app)
	srv := httptest.NewUnstartedServer(app.Handler())
	if ln != nil {
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start() // listens on 127.0.0.1
	s.t.Cleanup(srv.Close)
	s.app, s.srv, s.url = app, srv, srv.URL
}

func (s *chatServer) closeApp(app *roost.App) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := app.Close(ctx); err != nil {
		s.t.Errorf("close app: %v", err)
	}
}

// stop stops the server as a restart does: the app closes (its sockets
// get 1001, going away), then the HTTP server.
func (s *chatServer) stop() {
	s.t.Helper()
	s.closeApp(s.app)
	s.srv.Close()
}

// start serves again on the same data directory and address.
func (s *chatServer) start() {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.srv.Listener.Addr().String())
	if err != nil {
		s.t.Fatalf("listen on the address again: %v", err)
	}
	s.serve(ln)
}

// hibernate makes every object (the room and the rate limiters) leave memory:
// it waits until every object in memory armed its idle timer, advances the
// clock by the idle timeout and waits until the objects left. An object that
// arms its timer again instead of leaving (it armed it before its last event,
// so the fire came early) gets another round.
//
// It counts on the only timers of the app being the objects' idle timers: a
// pending alarm would arm the scheduler's timer too.
//
// It fails the test if fewer than want objects are in memory at first.
func (s *chatServer) hibernate(want int) {
	s.t.Helper()
	n := s.app.ActiveObjects()
	if n < want {
		s.t.Fatalf("%d objects in memory before hibernation, want at least %d", n, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	round := 0
	for ; s.app.ActiveObjects() > 0; round++ {
		if round == 5 {
			s.t.Fatalf("%d objects still in memory after advancing the clock by the idle timeout %d times",
				s.app.ActiveObjects(), round)
		}
		s.waitUntil(ctx, "every object in memory armed its idle timer",
			func(pending, active int) bool { return pending >= active })
		s.vc.Advance(idleTimeout)
		s.waitUntil(ctx, "every object left memory or one armed its timer again",
			func(pending, active int) bool { return active == 0 || pending > 0 })
	}
	s.t.Logf("%d objects left memory after %d advances of the clock", n, round)
}

// waitUntil waits until cond(armed timers, objects in memory) holds,
// checking again whenever a timer is armed or the number of objects in
// memory changes, and fails the test when ctx ends first.
func (s *chatServer) waitUntil(ctx context.Context, what string, cond func(pending, active int) bool) {
	s.t.Helper()
	for {
		pending, active := s.vc.Pending(), s.app.ActiveObjects()
		if cond(pending, active) {
			return
		}
		changed, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() {
			s.vc.WaitForTimers(changed, pending+1)
			stop()
		})
		wg.Go(func() {
			s.app.WaitActiveObjects(changed, func(n int) bool { return n != active })
			stop()
		})
		wg.Wait()
		if ctx.Err() != nil {
			s.t.Fatalf("wait until %s: %v (%d timers armed, %d objects in memory)",
				what, ctx.Err(), s.vc.Pending(), s.app.ActiveObjects())
		}
	}
}

// newBrowser starts headless chromium and returns its chromedp context; the
// browser stops on cleanup. It fails the test if chromium is not installed.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the browser tests need chromium: %v; install it (`apt-get install chromium`, or run .ci/run)", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // chromium refuses to run as root with its sandbox
		chromedp.Flag("disable-gpu", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	start(t, ctx, cancel, "start chromium")
	return ctx
}

// start runs no action on ctx, which starts its browser or opens its tab,
// and fails the test if that takes longer than waitTimeout. The first Run on
// a chromedp context ties the browser or tab to that context, so the bound is
// a timer that cancels it, not a context with a deadline.
func start(t testing.TB, ctx context.Context, cancel context.CancelFunc, what string) {
	t.Helper()
	timer := time.AfterFunc(waitTimeout, cancel)
	defer timer.Stop()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// tab is one person's page, in a browser context of its own (separate
// cookies and storage).
type tab struct {
	t    testing.TB
	ctx  context.Context
	name string
	url  string
}

// newTab opens a tab in a new browser context for the person name.
func newTab(t testing.TB, browser context.Context, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	start(t, ctx, cancel, "open a tab for "+name)
	return &tab{t: t, ctx: ctx, name: name}
}

// do runs the actions in the tab, bounded by waitTimeout, and fails the test
// on error.
func (p *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %s: %v; page: %s", p.name, what, err, p.state())
	}
}

// open loads the chat page.
func (p *tab) open(url string) {
	p.t.Helper()
	p.url = url
	p.do("open "+url, chromedp.Navigate(url))
}

// reload reloads the page, which closes its socket.
func (p *tab) reload() {
	p.t.Helper()
	p.do("reload", chromedp.Reload())
}

// join fills the join form with room and the tab's name, submits it and
// waits until the page is connected.
func (p *tab) join(room string) {
	p.t.Helper()
	p.do("join "+room,
		chromedp.WaitVisible(chromedp.ID("join-form")),
		chromedp.SetValue(chromedp.ID("room"), room),
		chromedp.SetValue(chromedp.ID("name"), p.name),
		chromedp.Click(chromedp.ID("join")),
		chromedp.WaitVisible(chromedp.ID("message-form")),
	)
	p.waitStatus("connected")
}

// send types text into the message form and sends it.
func (p *tab) send(text string) {
	p.t.Helper()
	p.do("send "+text,
		chromedp.WaitVisible(chromedp.ID("text")),
		chromedp.SetValue(chromedp.ID("text"), text),
		chromedp.Click(chromedp.ID("send")),
	)
}

// pageState is a JavaScript expression for what the page shows: the
// messages as "name: text", the people, the status and the error.
const pageState = `(() => {
	const text = (el, sel) => ((sel ? el.querySelector(sel) : el)?.textContent ?? '').trim();
	return {
		messages: [...document.querySelectorAll('#messages li.message')].map(li =>
			text(li, 'span.name').replace(/:$/, '') + ': ' + text(li, 'span.text')),
		people: [...document.querySelectorAll('#people li')].map(li => text(li)).sort(),
		status: text(document, '#status'),
		error: text(document, '#error'),
	};
})()`

// state returns what the page shows, as JSON, for failure messages.
func (p *tab) state() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](pageState))
	if err != nil {
		return fmt.Sprintf("(cannot read the page: %v)", err)
	}
	return string(v)
}

// waitFor waits until the field of pageState equals want (compared as JSON),
// and fails the test with what the page shows if it does not within
// waitTimeout. The page is checked on every DOM change.
func (p *tab) waitFor(field string, want any) {
	p.t.Helper()
	wantJSON, err := json.Marshal(want)
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	pred := fmt.Sprintf(`(want) => JSON.stringify(%s[%q]) === want`, pageState, field)
	_, err = chromedp.Run(ctx, chromedp.PollFunction[bool](pred,
		chromedp.WithPollingMutation(),
		chromedp.WithPollingTimeout(waitTimeout),
		chromedp.WithPollingArgs(string(wantJSON)),
	))
	if err != nil {
		p.t.Fatalf("%s: wait for %s = %s: %v; page: %s", p.name, field, wantJSON, err, p.state())
	}
}

// waitMessages waits until the page lists exactly these messages, each
// "name: text", in order.
func (p *tab) waitMessages(want ...string) {
	p.t.Helper()
	p.waitFor("messages", append([]string{}, want...)) // none: [], not null
}

// waitPeople waits until the page lists exactly these people (sorted).
func (p *tab) waitPeople(want ...string) {
	p.t.Helper()
	p.waitFor("people", append([]string{}, want...)) // none: [], not null
}

// waitStatus waits until #status reads want.
func (p *tab) waitStatus(want string) {
	p.t.Helper()
	p.waitFor("status", want)
}

// waitError waits until #error reads want.
func (p *tab) waitError(want string) {
	p.t.Helper()
	p.waitFor("error", want)
}
