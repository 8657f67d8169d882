package roosttest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/counter"
	"github.com/roost-dev/roost/examples/room"
	"github.com/roost-dev/roost/roosttest"
	"github.com/roost-dev/roost/workflow"
)

// A test of a class: drive it over HTTP, restart the app, and check that
// storage kept what memory lost. The examples of this package run their
// test with Run and print what it sees; in a test file, the function given
// to Run is the body of a func TestXxx(t *testing.T).
func Example() {
	passed := roosttest.Run(func(t roosttest.TB) { // in a test file: func TestCounter(t *testing.T)
		env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
			counter.Register(app, "counter") // what main registers
		})
		env.HTTP("POST", "/counter/a/increment", "")
		env.Restart() // in-memory state gone, storage kept
		status, body := env.HTTP("POST", "/counter/a/increment", "")
		fmt.Print(status, " ", body)
	})
	fmt.Println("passed:", passed)
	// Output:
	// 200 {"value":2}
	// passed: true
}

// Virtual time: an alarm set for an hour from now fires when the test
// advances the clock by an hour, at once. (Timer is a class of this
// package's tests: its alarm records when it fired, and the RPC method
// Fired returns those times.)
func ExampleEnv_Advance() {
	passed := roosttest.Run(func(t roosttest.TB) {
		var timers *roost.Namespace
		env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
			timers = roost.RegisterWithOptions(app, "timer", NewTimer,
				&roost.ClassOptions{Methods: []roost.MethodHandler{Fired}})
		})
		_, body := env.HTTP("POST", "/timer/a/alarm?in=1h", "") // sets the alarm
		fmt.Println(body)
		env.Advance(time.Hour)
		// The alarm's handler runs on its own: wait for its effect.
		var fired []string
		env.WaitUntil(func() bool {
			var err error
			fired, err = Fired.Call(t.Context(), timers.GetByName("a"), struct{}{})
			return err == nil && len(fired) == 1
		})
		fmt.Println("fired at", fired[0])
	})
	fmt.Println("passed:", passed)
	// Output:
	// set
	// fired at 2026-01-01T01:00:00Z
	// passed: true
}

// RPC needs no server: call a method with a stub of the class's namespace.
func Example_rpc() {
	passed := roosttest.Run(func(t roosttest.TB) {
		var timers *roost.Namespace
		roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
			timers = roost.RegisterWithOptions(app, "timer", NewTimer,
				&roost.ClassOptions{Methods: []roost.MethodHandler{Fired}})
		})
		fired, err := Fired.Call(t.Context(), timers.GetByName("a"), struct{}{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("fired %d times\n", len(fired))
	})
	fmt.Println("passed:", passed)
	// Output:
	// fired 0 times
	// passed: true
}

// WebSockets: dial the app's server; the connections close with the test.
func ExampleEnv_DialWS() {
	passed := roosttest.Run(func(t roosttest.TB) {
		env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
			room.Register(app, "room")
		})
		a, b := env.DialWS("/room/lobby"), env.DialWS("/room/lobby")
		if err := a.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		b.SetReadDeadline(time.Now().Add(roosttest.WaitTimeout))
		_, msg, err := b.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("b got %q\n", msg)
	})
	fmt.Println("passed:", passed)
	// Output:
	// b got "hi"
	// passed: true
}

// A workflow that sleeps for a day, across a restart, in no time. Setup
// defines the workflow again after the restart, as main would.
func ExampleEnv_Workflows() {
	passed := roosttest.Run(func(t roosttest.TB) {
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
		fmt.Println("before the restart:", workflow.StatusSleeping)
		env.Restart()
		env.Advance(24 * time.Hour)
		ctx, cancel := context.WithTimeout(t.Context(), roosttest.WaitTimeout)
		defer cancel()
		st, err := remind.Get("r1").Wait(ctx) // remind is the new app's
		if err != nil {
			t.Fatal(err)
		}
		out, err := remind.Output(st)
		fmt.Println(out, err)
	})
	fmt.Println("passed:", passed)
	// Output:
	// before the restart: sleeping
	// hello ada <nil>
	// passed: true
}
