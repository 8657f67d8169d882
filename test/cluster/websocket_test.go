package cluster_test

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/roost-dev/roost/test/internal/cluster"
)

// dialEcho opens a WebSocket to echo/name through the node at url.
func dialEcho(t *testing.T, url, name string) *websocket.Conn {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/echo/"+name, nil)
	if err != nil {
		t.Fatalf("dial echo/%s through %s: %v (%v)", name, url, err, resp)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// expect reads one message from ws and requires it to be want.
func expect(t *testing.T, ws *websocket.Conn, want string) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, got, err := ws.ReadMessage()
	if err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
}

func send(t *testing.T, ws *websocket.Conn, msg string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("send %q: %v", msg, err)
	}
}

// TestCluster_WebSocketThroughAnotherNode opens a socket on a node that
// does not own the object: it is proxied to the owner, and messages flow
// both ways. When the owner dies the proxied socket is closed (sockets do
// not survive a failover in this version); the client reconnects and the
// object serves its sockets from its new owner.
func TestCluster_WebSocketThroughAnotherNode(t *testing.T) {
	c := start(t, 3)
	const name = "room"
	owner := must(t, c.Client(), http.MethodGet, c.URL()+"/echo/"+name, "")
	var at, other *cluster.Node // the owner, and a node that is not
	for _, n := range c.Nodes {
		if n.Name == owner {
			at = n
		} else {
			other = n
		}
	}
	far, near := dialEcho(t, other.URL, name), dialEcho(t, at.URL, name)
	for i, from := range []*websocket.Conn{far, near, far} {
		msg := "m" + string(rune('0'+i))
		send(t, from, msg)
		expect(t, far, owner+": "+msg)
		expect(t, near, owner+": "+msg)
	}
	at.Kill(t)
	killed := time.Now()
	far.SetReadDeadline(killed.Add(30 * time.Second))
	_, got, err := far.ReadMessage()
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the socket proxied to %s (killed) read %q, %v; want it closed", owner, got, err)
	}
	t.Logf("the socket proxied to %s closed %v after the kill: %v", owner, time.Since(killed).Round(time.Millisecond), err)
	// The client reconnects (an upgrade answers 503 not_owner until the
	// object has a new owner): the object serves from its new owner.
	var again *websocket.Conn
	for time.Since(killed) < 60*time.Second {
		if ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(other.URL, "http")+"/echo/"+name, nil); err == nil {
			again = ws
			t.Cleanup(func() { ws.Close() })
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if again == nil {
		t.Fatalf("no reconnection through %s after %s was killed", other.Name, owner)
	}
	send(t, again, "after")
	again.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, got, err = again.ReadMessage()
	if err != nil || !strings.HasSuffix(string(got), ": after") || strings.HasPrefix(string(got), owner+":") {
		t.Fatalf("after the failover: read %q, %v; want it from a live owner", got, err)
	}
	t.Logf("proxied through %s to %s, both ways; closed when %s died; reconnected after %v: %q", other.Name, owner, owner,
		time.Since(killed).Round(time.Millisecond), got)
}
