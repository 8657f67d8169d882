package roost_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost"
)

func TestWebSocketLimits_MessageSize(t *testing.T) {
	app := newApp(t, roost.Config{WebSockets: roost.WebSocketConfig{MaxMessageBytes: 1024}})
	registerChat(app)
	srv := serve(t, app)

	// A message over the limit closes its socket with 1009.
	c := wsDial(t, srv.URL+"/chat/big")
	if err := c.WriteMessage(websocket.TextMessage, make([]byte, 2048)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("after a message over the limit: %v, want close 1009", err)
	}

}

// Per object, then per app: beyond the limit the upgrade is refused with
// limit_exceeded. (An app of its own: a socket closed for its message
// frees its place only once its goroutines end.)
func TestWebSocketLimits_Count(t *testing.T) {
	app := newApp(t, roost.Config{WebSockets: roost.WebSocketConfig{MaxPerObject: 2, MaxTotal: 3}})
	registerChat(app)
	srv := serve(t, app)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	wsDial(t, srv.URL+"/chat/full")
	wsDial(t, srv.URL+"/chat/full")
	_, resp, err := websocket.DefaultDialer.Dial(url+"/chat/full", nil)
	if err == nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("third socket of an object with a limit of 2: %v, %v", err, resp)
	}
	wsDial(t, srv.URL+"/chat/other")
	_, resp, err = websocket.DefaultDialer.Dial(url+"/chat/another", nil)
	if err == nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("socket beyond the app's limit of 3: %v, %v", err, resp)
	}
}

func TestWebSocketOrigins(t *testing.T) {
	app := newApp(t, roost.Config{WebSockets: roost.WebSocketConfig{AllowedOrigins: []string{"https://app.example"}}})
	registerChat(app)
	srv := serve(t, app)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat/o"
	for origin, ok := range map[string]bool{
		"":                     true, // not a browser
		srv.URL:                true, // the server's own page
		"https://app.example":  true,
		"https://evil.example": false,
	} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := websocket.DefaultDialer.Dial(url, h)
		if ok != (err == nil) {
			t.Errorf("Origin %q: %v (%v), want allowed=%v", origin, err, resp, ok)
		}
		if c != nil {
			c.Close()
		}
		if !ok && resp != nil && resp.StatusCode != http.StatusForbidden {
			t.Errorf("Origin %q refused with %d, want 403", origin, resp.StatusCode)
		}
	}
}

// counting counts the messages it handles, slowly.
type counting struct {
	st *roost.State
	n  *atomic.Int64
}

func (c *counting) Fetch(w http.ResponseWriter, r *http.Request) error {
	_, err := c.st.AcceptWebSocket(w, r)
	return err
}

func (c *counting) WebSocketMessage(ctx context.Context, ws *roost.WebSocket, msg roost.WebSocketMessage) error {
	time.Sleep(time.Millisecond) // slower than the sockets send
	c.n.Add(1)
	return nil
}

// Messages to an overloaded object wait instead of being dropped.
func TestWebSocketMessagesToAnOverloadedObjectAreNotLost(t *testing.T) {
	app := newApp(t, roost.Config{MaxPendingEvents: 2})
	var n atomic.Int64
	roost.Register(app.App, "count", func(st *roost.State) (*counting, error) { return &counting{st: st, n: &n}, nil })
	srv := serve(t, app)
	const sockets, each = 20, 10
	conns := make([]*websocket.Conn, sockets)
	for i := range conns {
		conns[i] = wsDial(t, srv.URL+"/count/one")
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			for range each {
				if err := c.WriteMessage(websocket.TextMessage, []byte("x")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(waitTimeout)
	for n.Load() < sockets*each {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages handled", n.Load(), sockets*each)
		}
		time.Sleep(5 * time.Millisecond) // the handler exposes no signal: poll its count
	}
}

// relay broadcasts every message to all its sockets, as the room class
// does, and reports its sockets' errors.
type relay struct {
	st   *roost.State
	errs chan error
}

func (r *relay) Fetch(w http.ResponseWriter, req *http.Request) error {
	_, err := r.st.AcceptWebSocket(w, req)
	return err
}

func (r *relay) WebSocketMessage(ctx context.Context, ws *roost.WebSocket, msg roost.WebSocketMessage) error {
	r.st.Broadcast(ctx, msg, "")
	return nil
}

func (r *relay) WebSocketError(ctx context.Context, ws *roost.WebSocket, err error) error {
	r.errs <- err
	return nil
}

// A text message that is not UTF-8 closes its sender with 1007; the
// object hears of the error, never of the message, so it relays nothing
// invalid to the others (issue 12: browsers in the room failed with 1006).
func TestWebSocketInvalidUTF8ClosesTheSenderWith1007(t *testing.T) {
	app := newApp(t, roost.Config{})
	errs := make(chan error, 4)
	roost.Register(app.App, "relay", func(st *roost.State) (*relay, error) { return &relay{st: st, errs: errs}, nil })
	srv := serve(t, app)
	member := wsDial(t, srv.URL+"/relay/r")
	sender := wsDial(t, srv.URL+"/relay/r")
	if err := sender.WriteMessage(websocket.TextMessage, []byte("caf\xc3")); err != nil {
		t.Fatal(err)
	}
	sender.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, _, err := sender.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseInvalidFramePayloadData) {
		t.Fatalf("the sender read %v, want close 1007", err)
	}
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "UTF-8") {
			t.Fatalf("the object heard %v, want the invalid UTF-8", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the object never heard why its socket closed")
	}
	if got := wsSay(t, member, "café"); got != "café" {
		t.Fatalf("the member got %q first, want its own valid message", got)
	}
}
