package room_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/room"
	"github.com/roost-dev/roost/roosttest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openRooms opens an app with the room class, as main registers it.
func openRooms(t *testing.T, opts ...roosttest.Option) *roosttest.Env {
	t.Helper()
	return roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
		room.Register(app, "room")
	}, opts...)
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

func TestRoomBroadcastsToEverySocket(t *testing.T) {
	t.Parallel()
	env := openRooms(t)
	const n = 20
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = env.DialWS("/room/lobby")
	}
	other := env.DialWS("/room/elsewhere")
	for i := range 3 {
		msg := fmt.Sprintf("hello %d", i)
		if err := conns[i].WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		for j, c := range conns {
			if got := read(t, c); got != msg {
				t.Fatalf("socket %d got %q, want %q", j, got, msg)
			}
		}
	}
	other.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, b, err := other.ReadMessage(); err == nil {
		t.Fatalf("another room's socket got %q", b)
	}
}

func TestRoomHibernatesWithOpenSockets(t *testing.T) {
	t.Parallel()
	env := openRooms(t, roosttest.WithConfig(func(cfg *roost.Config) { cfg.IdleTimeout = time.Minute }))
	app := env.App()
	a, b := env.DialWS("/room/h"), env.DialWS("/room/h")
	if err := a.WriteMessage(websocket.TextMessage, []byte("before")); err != nil {
		t.Fatal(err)
	}
	read(t, a)
	read(t, b)
	ctx, cancel := context.WithTimeout(t.Context(), roosttest.WaitTimeout)
	defer cancel()
	// The clients may read the broadcast before the room's event ends and
	// arms its idle timer: advance again if the clock moved before that.
	for round := 0; app.ActiveObjects() != 0; round++ {
		if round == 3 {
			t.Fatal("the room did not leave memory after 3 idle timeouts")
		}
		if err := env.Clock().WaitForTimers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		env.Advance(time.Minute)
		left, stop := context.WithTimeout(ctx, time.Second)
		app.WaitActiveObjects(left, func(n int) bool { return n == 0 })
		stop()
	}
	// The sockets stayed open; a message wakes the room.
	if err := b.WriteMessage(websocket.BinaryMessage, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if got, got2 := read(t, a), read(t, b); got != "after" || got2 != "after" {
		t.Fatalf("after hibernation: %q, %q", got, got2)
	}
	if app.ActiveObjects() != 1 {
		t.Fatalf("%d objects in memory after the message, want 1", app.ActiveObjects())
	}
}

func TestRoomRefusesPlainRequests(t *testing.T) {
	t.Parallel()
	env := openRooms(t)
	if status, body := env.HTTP("GET", "/room/x", ""); status != http.StatusUpgradeRequired {
		t.Fatalf("GET without upgrade: %d %s, want 426", status, body)
	}
}

func TestRoomClosesSocketsOnShutdown(t *testing.T) {
	t.Parallel()
	env := openRooms(t)
	app := env.App()
	c := env.DialWS("/room/bye")
	ctx, cancel := context.WithTimeout(t.Context(), roosttest.WaitTimeout)
	defer cancel()
	done := make(chan error, 1)
	// The program's shutdown; the env's own Close at the end then does
	// nothing. (Env.Restart would close the app on this goroutine, which
	// must read the socket for the close handshake to end.)
	go func() { done <- app.Close(ctx) }()
	c.SetReadDeadline(time.Now().Add(roosttest.WaitTimeout))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("read during shutdown: %v, want close 1001", err)
	}
	c.Close() // the server waits for the close handshake or its timeout
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRoomBroadcastTo500ClientsLosesNothingAndKeepsOrder(t *testing.T) {
	t.Parallel()
	env := openRooms(t)
	const clients, senders, each = 500, 4, 10
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = env.DialWS("/room/crowd")
	}
	// Every client reads everything concurrently, as it arrives.
	type result struct {
		got map[int][]int // sender → message numbers in arrival order
		err error
	}
	results := make(chan result, clients)
	for _, c := range conns {
		go func() {
			r := result{got: map[int][]int{}}
			for range senders * each {
				c.SetReadDeadline(time.Now().Add(roosttest.WaitTimeout))
				_, b, err := c.ReadMessage()
				if err != nil {
					r.err = err
					break
				}
				var s, n int
				if _, err := fmt.Sscanf(string(b), "s%d-%d", &s, &n); err != nil {
					r.err = err
					break
				}
				r.got[s] = append(r.got[s], n)
			}
			results <- r
		}()
	}
	done := make(chan struct{})
	for s := range senders {
		go func() {
			defer func() { done <- struct{}{} }()
			for n := range each {
				if err := conns[s].WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "s%d-%d", s, n)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range senders {
		<-done
	}
	for range clients {
		r := <-results
		if r.err != nil {
			t.Fatalf("a client: %v", r.err)
		}
		for s := range senders {
			got := r.got[s]
			if len(got) != each {
				t.Fatalf("a client got %d messages of sender %d, want %d", len(got), s, each)
			}
			for i, n := range got {
				if n != i {
					t.Fatalf("a client got sender %d's messages out of order: %v", s, got)
				}
			}
		}
	}
}
