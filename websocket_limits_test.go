package roost_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost"
)

func TestWebSocketLimits(t *testing.T) {
	app := newApp(t, roost.Config{WebSockets: roost.WebSocketConfig{MaxMessageBytes: 1024, MaxPerObject: 2, MaxTotal: 3}})
	registerChat(app)
	srv := serve(t, app)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	// A message over the limit closes its socket with 1009.
	c := wsDial(t, srv.URL+"/chat/big")
	if err := c.WriteMessage(websocket.TextMessage, make([]byte, 2048)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("after a message over the limit: %v, want close 1009", err)
	}

	// Per object, then per app: beyond the limit the upgrade is refused
	// with limit_exceeded.
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
