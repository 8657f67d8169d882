package room_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/room"
	"github.com/roost-dev/roost/internal/clock"
)

const waitTimeout = 30 * time.Second

func openRooms(t *testing.T, cfg roost.Config) (*roost.App, *clock.Virtual, *httptest.Server) {
	t.Helper()
	vc := clock.NewVirtual(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg.Dir, cfg.Clock, cfg.Logger = t.TempDir(), vc, slog.New(slog.DiscardHandler)
	app, err := roost.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	room.Register(app, "room")
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := app.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return app, vc, srv
}

func dial(t *testing.T, srv *httptest.Server, path string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", path, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func TestRoomBroadcastsToEverySocket(t *testing.T) {
	_, _, srv := openRooms(t, roost.Config{})
	const n = 20
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = dial(t, srv, "/room/lobby")
	}
	other := dial(t, srv, "/room/elsewhere")
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
	app, vc, srv := openRooms(t, roost.Config{IdleTimeout: time.Minute})
	a, b := dial(t, srv, "/room/h"), dial(t, srv, "/room/h")
	if err := a.WriteMessage(websocket.TextMessage, []byte("before")); err != nil {
		t.Fatal(err)
	}
	read(t, a)
	read(t, b)
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	// The clients may read the broadcast before the room's event ends and
	// arms its idle timer: advance again if the clock moved before that.
	for round := 0; app.ActiveObjects() != 0; round++ {
		if round == 3 {
			t.Fatal("the room did not leave memory after 3 idle timeouts")
		}
		if err := vc.WaitForTimers(ctx, 1); err != nil {
			t.Fatal(err)
		}
		vc.Advance(time.Minute)
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
	_, _, srv := openRooms(t, roost.Config{})
	resp, err := http.Get(srv.URL + "/room/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("GET without upgrade: %d, want 426", resp.StatusCode)
	}
}

func TestRoomClosesSocketsOnShutdown(t *testing.T) {
	app, _, srv := openRooms(t, roost.Config{})
	c := dial(t, srv, "/room/bye")
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- app.Close(ctx) }()
	c.SetReadDeadline(time.Now().Add(waitTimeout))
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
	_, _, srv := openRooms(t, roost.Config{})
	const clients, senders, each = 500, 4, 10
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = dial(t, srv, "/room/crowd")
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
				c.SetReadDeadline(time.Now().Add(waitTimeout))
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
