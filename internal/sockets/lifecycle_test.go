package sockets

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestHub_NewStartsNoGoroutineAndCloseJoinsTheWatchdog(t *testing.T) {
	before := goleak.IgnoreCurrent()
	h := New(Config{Deliver: func(*Socket, Event) {}})
	goleak.VerifyNone(t, before)
	h.Start()
	h.Start() // a second Start starts nothing
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, before)
}

func TestHub_CloseWithoutStartTwiceAndStartAfterClose(t *testing.T) {
	before := goleak.IgnoreCurrent()
	h := New(Config{Deliver: func(*Socket, Event) {}})
	if err := h.Close(context.Background()); err != nil {
		t.Fatalf("close of a hub never started: %v", err)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatalf("second close: %v", err)
	}
	h.Start()
	goleak.VerifyNone(t, before)
}

// Two Closes at once both wait for the sockets' goroutines, and return the
// same result: the second does not take over the first's wait.
func TestHub_ConcurrentClosesBothWaitForTheSockets(t *testing.T) {
	delivering, release := make(chan struct{}, 1), make(chan struct{})
	h := newHub(t, Config{Deliver: func(_ *Socket, ev Event) {
		if ev.Kind == Message {
			delivering <- struct{}{}
			<-release // the socket's reader stays busy
		}
	}})
	url, accepted := serveRoom(t, h)
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-accepted
	if err := c.WriteMessage(websocket.TextMessage, []byte("hold")); err != nil {
		t.Fatal(err)
	}
	<-delivering
	errs := make(chan error, 2)
	closeHub := func() { errs <- h.Close(context.Background()) }
	go closeHub()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, CloseGoingAway) {
		t.Fatalf("read: %v, want the first Close's 1001", err)
	}
	go closeHub() // while the first waits for the busy reader
	close(release)
	for i := range 2 {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatalf("close %d: %v", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("close %d did not return", i)
		}
	}
}
