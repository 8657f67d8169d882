package roosttest_test

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/counter"
	"github.com/roost-dev/roost/examples/room"
	"github.com/roost-dev/roost/roosttest"
	"github.com/roost-dev/roost/workflow"
)

// A test of a class: drive it over HTTP, restart the app, and check that
// storage kept what memory lost. (The examples of this package are tests:
// they take the *testing.T of a TestXxx function.)
func Example() {
	testCounter := func(t *testing.T) {
		env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
			counter.Register(app, "counter") // what main registers
		})
		env.HTTP("POST", "/counter/a/increment", "")
		env.Restart() // in-memory state gone, storage kept
		if status, body := env.HTTP("POST", "/counter/a/increment", ""); status != 200 || body != "{\"value\":2}\n" {
			t.Fatalf("after a restart: %d %s", status, body)
		}
	}
	_ = testCounter
}

// Virtual time: an alarm set for an hour from now fires when the test
// advances the clock by an hour, at once.
func ExampleEnv_Advance() {
	testAlarm := func(t *testing.T) {
		var timers *roost.Namespace
		env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
			timers = roost.RegisterWithOptions(app, "timer", NewTimer,
				&roost.ClassOptions{Methods: []roost.MethodHandler{Fired}})
		})
		env.HTTP("POST", "/timer/a/alarm?in=1h", "") // sets the alarm
		env.Advance(time.Hour)
		// The alarm's handler runs on its own: wait for its effect.
		env.WaitUntil(func() bool {
			fired, err := Fired.Call(t.Context(), timers.GetByName("a"), struct{}{})
			return err == nil && len(fired) == 1
		})
	}
	_ = testAlarm
}

// RPC needs no server: call a method with a stub of the class's namespace.
func Example_rpc() {
	testRPC := func(t *testing.T) {
		var timers *roost.Namespace
		roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
			timers = roost.RegisterWithOptions(app, "timer", NewTimer,
				&roost.ClassOptions{Methods: []roost.MethodHandler{Fired}})
		})
		fired, err := Fired.Call(t.Context(), timers.GetByName("a"), struct{}{})
		if err != nil || len(fired) != 0 {
			t.Fatalf("fired %v, %v", fired, err)
		}
	}
	_ = testRPC
}

// WebSockets: dial the app's server; the connections close with the test.
func ExampleEnv_DialWS() {
	testRoom := func(t *testing.T) {
		env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
			room.Register(app, "room")
		})
		a, b := env.DialWS("/room/lobby"), env.DialWS("/room/lobby")
		if err := a.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		b.SetReadDeadline(time.Now().Add(roosttest.WaitTimeout))
		if _, msg, err := b.ReadMessage(); err != nil || string(msg) != "hi" {
			t.Fatalf("got %q, %v", msg, err)
		}
	}
	_ = testRoom
}

// A workflow that sleeps for a day, across a restart, in no time. Setup
// defines the workflow again after the restart, as main would.
func ExampleEnv_Workflows() {
	testReminder := func(t *testing.T) {
		var remind *workflow.Workflow[string, string]
		env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
			remind = workflow.Define(env.Workflows(), "remind", func(ctx workflow.Context, who string) (string, error) {
				if err := workflow.Sleep(ctx, "a day", 24*time.Hour); err != nil {
					return "", err
				}
				return "hello " + who, nil
			})
		})
		inst, _, err := remind.Create(t.Context(), "r1", "ada")
		if err != nil {
			t.Fatal(err)
		}
		env.WaitUntil(func() bool { // it records its sleep
			st, err := inst.Status(t.Context())
			return err == nil && st.Status == workflow.StatusSleeping
		})
		env.Restart()
		env.Advance(24 * time.Hour)
		ctx, cancel := context.WithTimeout(t.Context(), roosttest.WaitTimeout)
		defer cancel()
		st, err := remind.Get("r1").Wait(ctx) // remind is the new app's
		if out, _ := remind.Output(st); err != nil || out != "hello ada" {
			t.Fatalf("%q, %v", out, err)
		}
	}
	_ = testReminder
}
