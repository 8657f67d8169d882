package roost_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost"
)

// relayObj sends each message to the room's other sockets.
type relayObj struct{ st *roost.State }

func (r *relayObj) Fetch(w http.ResponseWriter, req *http.Request) error {
	_, err := r.st.AcceptWebSocket(w, req)
	return err
}

func (r *relayObj) WebSocketMessage(ctx context.Context, ws *roost.WebSocket, msg roost.WebSocketMessage) error {
	if n := r.st.BroadcastExcept(ctx, msg, "", ws); n != 2 {
		ws.SendText(ctx, "wrong count")
	}
	return nil
}

// BroadcastExcept reaches every socket but the one named.
func TestBroadcastExcept_LeavesOutTheSender(t *testing.T) {
	app := newApp(t, roost.Config{})
	roost.Register(app.App, "relay", func(st *roost.State) (*relayObj, error) { return &relayObj{st}, nil })
	srv := serve(t, app)
	a, b, c := wsDial(t, srv.URL+"/relay/r/"), wsDial(t, srv.URL+"/relay/r/"), wsDial(t, srv.URL+"/relay/r/")
	if err := a.WriteMessage(websocket.TextMessage, []byte("from a")); err != nil {
		t.Fatal(err)
	}
	for _, other := range []*websocket.Conn{b, c} {
		other.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, got, err := other.ReadMessage(); err != nil || string(got) != "from a" {
			t.Fatalf("another socket got %q, %v", got, err)
		}
	}
	// The sender's first message is b's, sent after its own went out.
	if err := b.WriteMessage(websocket.TextMessage, []byte("from b")); err != nil {
		t.Fatal(err)
	}
	a.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, got, err := a.ReadMessage(); err != nil || string(got) != "from b" {
		t.Fatalf("the sender's first message is %q (%v), want b's: its own came back", got, err)
	}
}
