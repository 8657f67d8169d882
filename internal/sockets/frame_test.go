package sockets

import (
	"bytes"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Frames of every length encoding reach a client intact, sent alone and
// broadcast, and a client's ping gets its pong.
func TestFramesOfEveryLengthArriveIntact(t *testing.T) {
	h := newHub(t, Config{Deliver: func(*Socket, Event) {}})
	url, accepted := serveRoom(t, h)
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	pong := make(chan string, 1)
	c.SetPongHandler(func(data string) error { pong <- data; return nil })
	if err := c.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	for i, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 1 << 20} {
		msg := bytes.Repeat([]byte{byte('a' + i)}, n)
		binary := i%2 == 0
		if i < 4 {
			s.Send(binary, msg)
		} else {
			Broadcast([]*Socket{s}, binary, msg)
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		typ, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message of %d bytes: %v", n, err)
		}
		if want := map[bool]int{true: websocket.BinaryMessage, false: websocket.TextMessage}[binary]; typ != want || !bytes.Equal(got, msg) {
			t.Fatalf("message of %d bytes: type %d, %d bytes back", n, typ, len(got))
		}
	}
	select {
	case p := <-pong:
		if p != "are you there" {
			t.Fatalf("pong %q", p)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no pong")
	}
}

// A client's close is echoed with its code before the connection closes,
// however the reader and the writer interleave.
func TestPeerCloseIsEchoed(t *testing.T) {
	h := newHub(t, Config{Deliver: func(*Socket, Event) {}})
	url, accepted := serveRoom(t, h)
	for i := range 20 {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		<-accepted
		if err := c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("close %d: %v, want the echo of 1000", i, err)
		}
		c.Close()
	}
}
