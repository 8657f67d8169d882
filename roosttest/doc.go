// Package roosttest runs Roost apps in tests: an [Env] is an app on a
// temporary directory, driven by a virtual [Clock], with an HTTP server in
// front of it, that a test can restart at any point.
//
//	func TestReminder(t *testing.T) {
//		var reminders *roost.Namespace
//		env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
//			reminders = roost.Register(app, "reminder", NewReminder) // as main does
//		})
//		status, body := env.HTTP("POST", "/reminder/ada/in?d=1h", "")
//		...
//		env.Restart()                 // memory gone, storage kept
//		env.Advance(time.Hour)        // the alarm fires, without waiting an hour
//		env.WaitUntil(func() bool { … the alarm's effect … })
//	}
//
// # Setup and restarts
//
// [New] opens the app and calls the setup function, which registers the
// classes and defines the workflows, as a program's main does at startup.
// [Env.Restart] closes everything and opens the app again on the same
// directory and the same clock, then calls setup again: what was in memory
// (object instances, their fields, running workflow goroutines, sockets) is
// gone; what was committed to storage, alarms and timers included, stays.
// Everything is closed when the test ends (t.Cleanup).
//
// Restart is a clean stop: events in flight finish and commit first. The
// harness offers no in-process crash, because it cannot honestly make one:
// an app's goroutines cannot be killed from inside its process without
// closing it. Roost's own crash tests kill a real server process with
// SIGKILL (test/crash in the Roost repository); a Restart in the middle of a
// workflow's sleep or before an alarm is due exercises the same recovery from
// storage.
//
// # Time
//
// The app's clock is virtual: it starts at [Epoch] (or [WithStart]) and moves
// only when the test moves it. [Env.Advance] moves it and waits until the
// woken work has run (the app is idle: see roost.App.WaitIdle); [Env.AdvanceUntil] moves it step by step until a condition holds,
// for chains of wakes (a retry after a retry, an alarm that sets the next);
// [Env.WaitUntil] waits, in real time and bounded, for work that needs no
// clock. Every wait of the harness is bounded: a bug fails the test instead
// of hanging it.
//
// # Clients
//
// [Env.URL] is an HTTP server on 127.0.0.1 serving the app's gateway
// ([roost.App.Handler]). Its URL stays the same across restarts: it forwards
// each request to the app open at the time (a request made while the app is
// closed gets 503 shutting_down). [Env.HTTP] makes a request; [Env.DialWS]
// opens a WebSocket (github.com/gorilla/websocket).
//
// RPC needs no server: a method is called in-process with a stub from the
// class's namespace, as in production:
//
//	var Add = roost.NewMethod("add", (*Counter).Add)
//
//	roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
//		counters = roost.RegisterWithOptions(app, "counter", NewCounter,
//			&roost.ClassOptions{Methods: []roost.MethodHandler{Add}})
//	})
//	n, err := Add.Call(t.Context(), counters.GetByName("a"), 2)
//
// # Workflows
//
// [Env.Workflows] gives setup a workflow engine for the app open now: it is
// made at the first call after each open, serves its HTTP API at
// [workflow.Prefix] and is closed before the app.
//
// # Outside go test
//
// [New] takes a [TB], the part of testing.TB the harness uses: the t of a
// test, a benchmark or a fuzz target. [Run] makes one for code that runs
// outside go test, a runnable example or a small program: it runs a
// function as a test (Fatal ends it, cleanups run, temporary directories
// are removed) and reports whether it passed. Its messages go to standard
// error, so an example's // Output holds only what the example prints.
//
// # Logs
//
// The app logs nowhere, unless [WithLogs] is given or the environment
// variable ROOSTTEST_LOG names a level (debug, info, warn, error; "1" means
// debug): then its records go to the test's output (shown for a failed
// test, and with go test -v).
package roosttest
