package roost_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost"
)

// chat is the class of the WebSocket tests: "join:<who>" stores who in the
// socket's attachment and answers "hi <who>"; "who" answers the attachment's
// name; "tagged:<tag>" answers how many sockets have tag; "fail" sends
// "never" and fails the event.
type chat struct{ st *roost.State }

func (c *chat) Fetch(w http.ResponseWriter, r *http.Request) error {
	c.st.SetWebSocketAutoResponse("ping", "pong")
	_, err := c.st.AcceptWebSocket(w, r, r.URL.Query()["tag"]...)
	return err
}

func (c *chat) WebSocketMessage(ctx context.Context, ws *roost.WebSocket, msg roost.WebSocketMessage) error {
	text := msg.Text()
	switch {
	case strings.HasPrefix(text, "join:"):
		who := strings.TrimPrefix(text, "join:")
		if err := ws.SetAttachment(map[string]string{"who": who}); err != nil {
			return err
		}
		ws.SendText(ctx, "hi "+who)
	case text == "who":
		var a map[string]string
		ok, err := ws.Attachment(&a)
		if err != nil {
			return err
		}
		if !ok {
			a = map[string]string{"who": "nobody"}
		}
		ws.SendText(ctx, a["who"])
	case strings.HasPrefix(text, "tagged:"):
		ws.SendText(ctx, strings.Repeat("x", len(c.st.WebSockets(strings.TrimPrefix(text, "tagged:")))))
	case text == "pinged?":
		ws.SendText(ctx, map[bool]string{true: "never", false: "yes"}[ws.AutoResponseTime().IsZero()])
	case text == "fail":
		ws.SendText(ctx, "never")
		return errors.New("this event fails")
	}
	return nil
}

func registerChat(app *testApp) {
	roost.Register(app.App, "chat", func(st *roost.State) (*chat, error) { return &chat{st: st}, nil })
}

func wsDial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http"), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func wsSay(t *testing.T, c *websocket.Conn, text string) string {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("answer to %q: %v", text, err)
	}
	return string(b)
}

func TestWebSocketAttachmentAndTagsSurviveHibernation(t *testing.T) {
	app := newApp(t, roost.Config{})
	registerChat(app)
	srv := serve(t, app)
	a := wsDial(t, srv.URL+"/chat/room?tag=red")
	b := wsDial(t, srv.URL+"/chat/room?tag=blue")
	if got := wsSay(t, a, "join:ann"); got != "hi ann" {
		t.Fatalf("join: %q", got)
	}
	app.evictIdle(t)
	if got := wsSay(t, a, "who"); got != "ann" {
		t.Fatalf("attachment after hibernation: %q, want ann", got)
	}
	if got := wsSay(t, b, "who"); got != "nobody" {
		t.Fatalf("the other socket's attachment: %q", got)
	}
	if got := wsSay(t, b, "tagged:red"); got != "x" {
		t.Fatalf("sockets tagged red: %d, want 1", len(got))
	}
}

func TestWebSocketAutoResponseDoesNotWakeTheObject(t *testing.T) {
	app := newApp(t, roost.Config{})
	registerChat(app)
	srv := serve(t, app)
	c := wsDial(t, srv.URL+"/chat/auto")
	app.evictIdle(t)
	for range 3 {
		if got := wsSay(t, c, "ping"); got != "pong" {
			t.Fatalf("auto response: %q", got)
		}
	}
	if n := app.ActiveObjects(); n != 0 {
		t.Fatalf("%d objects in memory after auto responses, want 0", n)
	}
	if got := wsSay(t, c, "pinged?"); got != "yes" {
		t.Fatalf("the object cannot see the auto response's time: %q", got)
	}
}

func TestWebSocketSendsOfAFailedEventNeverLeave(t *testing.T) {
	app := newApp(t, roost.Config{})
	registerChat(app)
	srv := serve(t, app)
	c := wsDial(t, srv.URL+"/chat/gate")
	if err := c.WriteMessage(websocket.TextMessage, []byte("fail")); err != nil {
		t.Fatal(err)
	}
	if got := wsSay(t, c, "join:bo"); got != "hi bo" {
		t.Fatalf("after a failed event the socket got %q first, want the next answer", got)
	}
}

func TestWebSocketNeedsHandler(t *testing.T) {
	app := newApp(t, roost.Config{})
	c := registerObj(app, "plain", map[string]route{
		"/ws": func(o *obj, w http.ResponseWriter, r *http.Request) error {
			_, err := o.st.AcceptWebSocket(w, r)
			return err
		},
	})
	_ = c
	srv := serve(t, app)
	_, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/plain/x/ws", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("upgrade to a class without WebSocketMessage: %v, %v; want 501", err, resp)
	}
}
