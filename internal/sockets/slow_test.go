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
	h := New(Config{SendQueue: 8, WriteTimeout: 200 * time.Millisecond,
		Deliver: func(s *Socket, ev Event) { events <- ev }})
	accepted := make(chan *Socket, 2)
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
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
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
