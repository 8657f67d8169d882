package chat

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// FuzzChatMessage sends a room whatever a client could: every frame gets
// exactly one answer, a message (broadcast back to the sender too) or an
// error frame, and the socket stays open.
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
		if err := c.WriteMessage(websocket.TextMessage, data); err != nil {
			t.Fatalf("the room closed the socket: %v", err)
		}
		if fr := read(t, c); fr.Type != "message" && fr.Type != "error" {
			t.Fatalf("answer to %q: frame of type %q", data, fr.Type)
		}
	})
}
