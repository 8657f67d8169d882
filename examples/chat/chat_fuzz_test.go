package chat

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost/roosttest"
)

// FuzzChatMessage sends a room whatever a client could: every frame of
// UTF-8 text gets exactly one answer, a message (broadcast back to the
// sender too) or an error frame, and the socket stays open; a frame that is
// not UTF-8 closes its own socket with 1007 and reaches no one.
func FuzzChatMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"message","text":"hi"}`, `{"type":"message","text":""}`, `{"type":"nope"}`,
		`{`, `null`, `[]`, `{"type":"message","text":"` + "\xff" + `"}`, `{"type":"message","text":7}`,
	} {
		f.Add([]byte(s))
	}
	env := serve(f)
	c, _ := join(f, env, "fuzz", "fuzzer")
	next(f, c, "presence")
	f.Fuzz(func(t *testing.T, data []byte) {
		// A token for the sender's rate limiter, which needs only the clock
		// to move (no work waits for it); Env.Advance would report its
		// failures on f, which a fuzz function may not use.
		env.Clock().Advance(time.Second)
		if !utf8.Valid(data) {
			invalidText(t, env, data)
			return
		}
		if err := c.WriteMessage(websocket.TextMessage, data); err != nil {
			t.Fatalf("the room closed the socket: %v", err)
		}
		if fr := read(t, c); fr.Type != "message" && fr.Type != "error" {
			t.Fatalf("answer to %q: frame of type %q", data, fr.Type)
		}
	})
}

// invalidText sends data, which is not UTF-8, as text on a socket of its
// own (in another room: its presence would reach the fuzzer), which the
// runtime must close with 1007.
func invalidText(t *testing.T, env *roosttest.Env, data []byte) {
	url := "ws" + strings.TrimPrefix(env.URL(), "http") + roomPath("fuzz-invalid", "invalid")
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, data); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, websocket.CloseInvalidFramePayloadData) {
				t.Fatalf("after text that is not UTF-8: %v, want close 1007", err)
			}
			return
		}
	}
}
