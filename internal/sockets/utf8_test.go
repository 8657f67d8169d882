package sockets

import (
	"bytes"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// A text message that is not valid UTF-8 fails its sender's connection
// with 1007 (RFC 6455 §8.1), in the hub, whatever the object's class: the
// object never sees it, so a room relays nothing invalid, and the room's
// other members stay connected. A rune split across fragments is valid.
func TestInvalidUTF8FailsTheSenderOnly(t *testing.T) {
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	for _, tc := range []struct {
		name    string
		frames  []byte
		invalid bool
	}{
		{"one frame", maskedFrame(true, opText, []byte{'a', 0xff, 'b'}), true},
		{"truncated rune", maskedFrame(true, opText, []byte("caf\xc3")), true},
		{"surrogate half", maskedFrame(true, opText, []byte("\xed\xa0\x80")), true},
		{"fragments", cat(maskedFrame(false, opText, []byte("\xe2\x82")), maskedFrame(true, 0, []byte("A"))), true},
		{"rune split across fragments", cat(maskedFrame(false, opText, []byte("\xe2\x82")), maskedFrame(true, 0, []byte("\xac"))), false},
		{"binary", maskedFrame(true, opBinary, []byte{0xff}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var events []Event
			h, addr := newRoom(t, Config{Deliver: func(_ *Socket, ev Event) {
				mu.Lock()
				events = append(events, ev)
				mu.Unlock()
			}})
			member := dialRoom(t, addr, "r")
			sender, br := dialRaw(t, addr, "r", 0)
			waitOpen(t, h, 2)
			if _, err := sender.Write(tc.frames); err != nil {
				t.Fatal(err)
			}
			if tc.invalid {
				if code := readClose(t, sender, br); code != websocket.CloseInvalidFramePayloadData {
					t.Fatalf("the sender got close %d, want 1007", code)
				}
			} else {
				member.SetReadDeadline(time.Now().Add(30 * time.Second))
				if _, _, err := member.ReadMessage(); err != nil {
					t.Fatalf("a valid message was not relayed: %v", err)
				}
			}
			// The member is still connected, and what it gets next is the
			// next valid message, not the invalid one.
			other := dialRoom(t, addr, "r")
			if err := other.WriteMessage(websocket.TextMessage, []byte("still valid: é")); err != nil {
				t.Fatal(err)
			}
			member.SetReadDeadline(time.Now().Add(30 * time.Second))
			typ, got, err := member.ReadMessage()
			if err != nil || typ != websocket.TextMessage || string(got) != "still valid: é" {
				t.Fatalf("the room member read %q (type %d), %v; want the next valid message", got, typ, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, ev := range events {
				if ev.Kind == Message && !ev.Binary && !utf8.Valid(ev.Data) {
					t.Fatalf("the object was given invalid UTF-8: %q", ev.Data)
				}
			}
		})
	}
}
