package sockets

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost/internal/errcode"
)

// pipeListener is a net.Listener of in-memory connections (net.Pipe): it
// carries real HTTP upgrades and WebSocket frames without a file
// descriptor, so a test can hold more sockets than the process may open.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error { l.once.Do(func() { close(l.closed) }); return nil }

func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "pipe"} }

// dial hands the server end of a new pipe to the listener.
func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// One object holds Cloudflare's 32,768 hibernatable sockets, each upgraded
// through a real handshake and read by the hub; the next is refused with
// limit_exceeded. (In memory: the machines cap a process at 20,000 files.)
func TestObjectHoldsCloudflaresSocketLimit(t *testing.T) {
	const n = 32768
	delivered := make(chan []byte, 1)
	h := newHub(t, Config{Deliver: func(s *Socket, ev Event) {
		if ev.Kind == Message {
			delivered <- ev.Data
		}
	}})
	var refused error
	var refusedOnce sync.Once
	l := newPipeListener()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.Accept(key("big"), nil)
		if err != nil {
			refusedOnce.Do(func() { refused = err })
			http.Error(w, err.Error(), http.StatusTooManyRequests)
			return
		}
		h.Upgrade(s, w, r)
	})}
	go srv.Serve(l)
	defer srv.Close()
	dialer := websocket.Dialer{NetDialContext: l.dial, ReadBufferSize: 256, WriteBufferSize: 256, HandshakeTimeout: time.Minute}
	clients := make([]*websocket.Conn, 0, n)
	defer func() {
		for _, c := range clients {
			c.NetConn().Close()
		}
	}()
	for i := range n {
		c, _, err := dialer.Dial("ws://pipe/", nil)
		if err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
		clients = append(clients, c)
	}
	if got := len(h.Sockets(key("big"), "")); got != n {
		t.Fatalf("the object holds %d sockets, want %d", got, n)
	}
	if _, _, err := dialer.Dial("ws://pipe/", nil); err == nil {
		t.Fatal("socket 32,769 was accepted")
	}
	if errcode.Of(refused) != errcode.LimitExceeded || !errors.Is(refused, ErrTooManySockets) {
		t.Fatalf("socket 32,769: %v, want too many WebSockets", refused)
	}
	// Every socket is read: the last one's message arrives.
	if err := clients[n-1].WriteMessage(websocket.TextMessage, []byte("last")); err != nil {
		t.Fatal(err)
	}
	if got := <-delivered; string(got) != "last" {
		t.Fatalf("delivered %q", got)
	}
}
