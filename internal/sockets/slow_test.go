package sockets

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A client that stops reading is closed once its queue is full, and its
// object hears why; the other sockets of the object are not held up.
func TestSlowConsumerIsClosedAndReported(t *testing.T) {
	events := make(chan Event, 16)
	h := newHub(t, Config{SendQueue: 8, WriteTimeout: 200 * time.Millisecond,
		Deliver: func(s *Socket, ev Event) { events <- ev }})
	url, accepted := serveRoom(t, h)
	slow, _, err := websocket.DefaultDialer.Dial(url, nil) // never reads
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slowSock := <-accepted
	fast, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	fastSock := <-accepted

	big := make([]byte, 256<<10)
	deadline := time.Now().Add(60 * time.Second)
	for slowSock.Send(true, big) {
		if time.Now().After(deadline) {
			t.Fatal("the slow socket never filled its queue")
		}
		time.Sleep(time.Millisecond) // let the writer fill the client's TCP window
	}
	// The fast socket still gets its messages.
	if !fastSock.Send(false, []byte("still here")) {
		t.Fatal("the fast socket was closed too")
	}
	fast.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, b, err := fast.ReadMessage(); err != nil || string(b) != "still here" {
		t.Fatalf("fast socket read %q, %v", b, err)
	}
	select {
	case ev := <-events:
		if ev.Kind != Failed || !errors.Is(ev.Err, errSlow) {
			t.Fatalf("event %+v, want the slow socket's failure", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the object never heard that its slow socket was closed")
	}
	for got := h.Sockets(key("room"), ""); len(got) != 1 || got[0] != fastSock; got = h.Sockets(key("room"), "") {
		if time.Now().After(deadline) {
			t.Fatalf("sockets after the slow one was dropped: %v", got)
		}
		time.Sleep(time.Millisecond) // it is removed right after its failure is delivered
	}
	if err := h.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// serveRoom starts a server whose every connection becomes a socket of one
// object of h, and returns its ws:// URL and the accepted sockets.
func serveRoom(t *testing.T, h *Hub) (string, <-chan *Socket) {
	accepted := make(chan *Socket, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.Accept(key("room"), nil)
		if err != nil {
			t.Error(err)
			return
		}
		if err := h.Upgrade(s, w, r); err != nil {
			t.Error(err)
			return
		}
		accepted <- s
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), accepted
}

// A receiver that stops reading holds up its room's sender once, for the
// throttle's bound, and is then closed; the others get every message, in
// order, and are never closed. (Its write times out later than the
// throttle gives up, so that it is closed for falling behind.)
func TestSlowConsumerHoldsUpTheRoomOnce(t *testing.T) {
	events := make(chan Event, 16)
	h := newHub(t, Config{SendQueue: 64, WriteTimeout: 4 * time.Second, Deliver: func(s *Socket, ev Event) { events <- ev }})
	url, accepted := serveRoom(t, h)
	slow, _, err := websocket.DefaultDialer.Dial(url, nil) // never reads
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	<-accepted
	const readers, messages = 4, 400
	got := make(chan int, readers)
	for range readers {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		<-accepted
		go func() {
			n := 0
			for n < messages {
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, b, err := c.ReadMessage()
				if err != nil {
					t.Logf("reader %d: %v", n, err)
					break
				}
				if got := int(b[0]) | int(b[1])<<8; got != n {
					t.Logf("reader: got message %d, want %d", got, n)
					break
				}
				n++
			}
			got <- n
		}()
	}
	// The room: each message goes to every socket, then the sender's next
	// message waits while receivers are behind, as a socket's reader does.
	msg := make([]byte, 64<<10)
	for i := range messages {
		msg[0], msg[1] = byte(i), byte(i>>8)
		Broadcast(h.Sockets(key("room"), ""), true, msg)
		h.throttle(key("room"))
	}
	for range readers {
		if n := <-got; n != messages {
			t.Fatalf("a reading client got %d of %d messages in order", n, messages)
		}
	}
	select {
	case ev := <-events:
		if ev.Kind != Failed || !errors.Is(ev.Err, errSlow) {
			t.Fatalf("event %+v, want the slow socket's failure", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the slow socket was never closed")
	}
	st := h.Stats()
	if st.SlowClosed != 1 || st.Throttled == 0 {
		t.Fatalf("stats %+v: want the slow socket closed after holding up the sender", st)
	}
	deadline := time.Now().Add(10 * time.Second)
	for st.Open != readers { // it is removed right after its failure is delivered
		if time.Now().After(deadline) {
			t.Fatalf("%d sockets open, want the %d readers", st.Open, readers)
		}
		time.Sleep(time.Millisecond)
		st = h.Stats()
	}
}

// A client that stops reading while its queue is short is dropped once a
// write has waited WriteTimeout, and its object hears why.
func TestStuckWriteTimesOut(t *testing.T) {
	events := make(chan Event, 16)
	h := newHub(t, Config{WriteTimeout: 200 * time.Millisecond, SendQueueBytes: 1 << 30,
		Deliver: func(s *Socket, ev Event) { events <- ev }})
	url, accepted := serveRoom(t, h)
	c, _, err := websocket.DefaultDialer.Dial(url, nil) // never reads
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	big := make([]byte, 1<<20)
	for range 64 { // more than the kernel buffers, fewer than the queue
		if !s.Send(true, big) {
			break // the watchdog was quicker than the sends
		}
	}
	select {
	case ev := <-events:
		if ev.Kind != Failed || !strings.Contains(ev.Err.Error(), "write to the client") {
			t.Fatalf("event %+v, want the failed write", ev)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stuck write never timed out")
	}
	if st := h.Stats(); st.SlowClosed != 0 {
		t.Fatalf("stats %+v: the socket was closed as slow, not by its write timeout", st)
	}
}
