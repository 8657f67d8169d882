package sockets

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// maskedFrame encodes a client frame (clients must mask).
func maskedFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n < 1<<16:
		out = append(out, 0x80|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	mask := [4]byte{1, 2, 3, 4}
	out = append(out, mask[:]...)
	for i, c := range payload {
		out = append(out, c^mask[i%4])
	}
	return out
}

// FuzzClientBytes sends arbitrary bytes on an upgraded connection, as a
// broken or hostile client would: the hub delivers only whole messages
// within the size limit, text only as valid UTF-8, answers its automatic
// response, never panics, and forgets the socket once the client is gone.
func FuzzClientBytes(f *testing.F) {
	const limit = 1024
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	f.Add(maskedFrame(true, 1, []byte("hello")))
	f.Add(cat(maskedFrame(false, 1, []byte("hel")), maskedFrame(true, 0, []byte("lo"))))
	f.Add(cat(maskedFrame(true, 1, []byte("ping")), maskedFrame(true, 2, []byte{0, 1, 2})))
	f.Add(cat(maskedFrame(true, 9, []byte("p")), maskedFrame(true, 8, []byte{3, 232, 'b', 'y', 'e'})))
	f.Add(maskedFrame(true, 2, make([]byte, limit+1)))
	f.Add(maskedFrame(true, 1, []byte{0xff, 0xfe}))
	f.Add(cat(maskedFrame(false, 1, []byte("\xe2\x82")), maskedFrame(true, 0, []byte("\xac")))) // € split
	f.Add(cat(maskedFrame(false, 1, []byte("\xe2\x82")), maskedFrame(true, 0, []byte("A"))))
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}) // not masked
	f.Add([]byte{0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})

	var mu sync.Mutex
	var events []Event
	h := New(Config{MaxMessageBytes: limit, Deliver: func(s *Socket, ev Event) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}})
	h.Start()
	f.Cleanup(func() { h.Close(context.Background()) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.Accept(key("fuzz"), nil)
		h.SetAutoResponse(key("fuzz"), AutoResponse{Request: "ping", Response: "pong"}) // as an object does
		if err == nil {
			h.Upgrade(s, w, r)
		}
	}))
	f.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")

	f.Fuzz(func(t *testing.T, data []byte) {
		mu.Lock()
		events = events[:0]
		mu.Unlock()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake: %v %v", resp, err)
		}
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, br) // until the hub closes its side
		deadline := time.Now().Add(10 * time.Second)
		for h.Count() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the hub still holds %d sockets after the client left", h.Count())
			}
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range events {
			if ev.Kind == Message && len(ev.Data) > limit {
				t.Fatalf("delivered a message of %d bytes, over the limit of %d", len(ev.Data), limit)
			}
			if ev.Kind == Message && !ev.Binary && !utf8.Valid(ev.Data) {
				t.Fatalf("delivered a text message that is not UTF-8: %q", ev.Data)
			}
			if ev.Kind == Message && !ev.Binary && string(ev.Data) == "ping" {
				t.Fatal("the automatic request was delivered to the object")
			}
		}
	})
}
