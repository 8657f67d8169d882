package roost

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/sockets"
)

// FuzzWebSocketAttachment stores arbitrary bytes as a socket's attachment
// (what a corrupt or foreign value would look like) and decodes them into
// the shapes objects use: a bad one is an error, never a panic, and a value
// that fits round-trips.
func FuzzWebSocketAttachment(f *testing.F) {
	for _, seed := range []string{`{"name":"ann","joined":3}`, `null`, `"x"`, `[1,2]`, `{"name":`, "\xff", `{"name":"\u0000"}`} {
		f.Add([]byte(seed))
	}
	hub := sockets.New(sockets.Config{Deliver: func(*sockets.Socket, sockets.Event) {}})
	f.Cleanup(func() { hub.Close(f.Context()) })
	sock, err := hub.Accept(sockets.Key{Class: "c", ID: ids.FromName("c", "fuzz")}, nil)
	if err != nil {
		f.Fatal(err)
	}
	ws := &WebSocket{s: sock}
	type member struct {
		Name   string `json:"name"`
		Joined int    `json:"joined"`
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := sock.SetAttachment(data); err != nil {
			if len(data) <= 16<<10 {
				t.Fatalf("an attachment of %d bytes was refused: %v", len(data), err)
			}
			return
		}
		var m member
		_, errStruct := ws.Attachment(&m)
		var anyv any
		_, errAny := ws.Attachment(&anyv)
		if errAny == nil && !json.Valid(data) {
			t.Fatalf("%q, not JSON, decoded", data)
		}
		if errStruct != nil {
			return
		}
		// What decoded stores and decodes back the same.
		if err := ws.SetAttachment(m); err != nil {
			t.Fatal(err)
		}
		var back member
		if ok, err := ws.Attachment(&back); !ok || err != nil || back != m {
			t.Fatalf("round trip of %+v: %+v, %v, %v", m, back, ok, err)
		}
		if b := sock.Attachment(); !json.Valid(b) || bytes.Contains(b, []byte("\n")) {
			t.Fatalf("stored attachment %q", b)
		}
	})
}
