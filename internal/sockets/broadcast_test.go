package sockets

import (
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A quiet room's broadcast is written by the broadcaster itself: when
// Broadcast returns, no socket has it queued. A burst right after is only
// queued, and every client still gets every message, in order.
func TestQuietRoomBroadcastIsWrittenAtOnce(t *testing.T) {
	h := newHub(t, Config{Deliver: func(*Socket, Event) {}})
	url, accepted := serveRoom(t, h)
	const clients, burst = 2*broadcastShare + 10, 50 // spread over goroutines
	conns := make([]*websocket.Conn, clients)
	socks := make([]*Socket, clients)
	for i := range conns {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i], socks[i] = c, <-accepted
	}
	time.Sleep(quietGap)
	if n := Broadcast(socks, false, []byte("m0")); n != clients {
		t.Fatalf("the quiet broadcast reached %d sockets, want %d", n, clients)
	}
	for i, s := range socks {
		s.mu.Lock()
		queued := len(s.queue)
		s.mu.Unlock()
		if queued != 0 {
			t.Fatalf("socket %d has %d frames queued after a quiet room's broadcast, want it written", i, queued)
		}
	}
	var last time.Time
	for i := 1; i <= burst; i++ {
		last = time.Now()
		Broadcast(socks, false, fmt.Appendf(nil, "m%d", i))
	}
	if h.quiet(key("room")) && time.Since(last) < quietGap {
		t.Fatal("the room is quiet right after a burst")
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		for want := 0; want <= burst; want++ {
			_, b, err := c.ReadMessage()
			if err != nil || string(b) != fmt.Sprint("m", want) {
				t.Fatalf("client %d read %q, %v; want m%d", i, b, err, want)
			}
		}
	}
	time.Sleep(quietGap)
	if !h.quiet(key("room")) {
		t.Fatalf("the room is not quiet after %s without a broadcast", quietGap)
	}
}
