package chat

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/roosttest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// serve opens an app with the chat registered, as main registers it; its
// rate limiters and message times follow the env's virtual clock.
func serve(t testing.TB) *roosttest.Env {
	t.Helper()
	return roosttest.New(t, func(app *roost.App, env *roosttest.Env) { Register(app) })
}

// roomPath is the path of room's WebSocket for name.
func roomPath(room, name string) string {
	return "/chatroom/" + url.PathEscape(room) + "?name=" + url.QueryEscape(name)
}

// join opens a socket to room as name and reads its history.
func join(t testing.TB, env *roosttest.Env, room, name string) (*websocket.Conn, []message) {
	t.Helper()
	c := env.DialWS(roomPath(room, name))
	f := next(t, c, "history")
	return c, f.Messages
}

// frame is any frame the server sends.
type frame struct {
	Type     string    `json:"type"`
	Name     string    `json:"name"`
	Text     string    `json:"text"`
	At       string    `json:"at"`
	Code     string    `json:"code"`
	Message  string    `json:"message"`
	Names    []string  `json:"names"`
	Messages []message `json:"messages"`
}

func read(t testing.TB, c *websocket.Conn) frame {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(roosttest.WaitTimeout))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	return f
}

// next reads the next frame of type typ, skipping presence frames (unless
// typ is "presence"); any other frame fails the test.
func next(t testing.TB, c *websocket.Conn, typ string) frame {
	t.Helper()
	for {
		f := read(t, c)
		switch {
		case f.Type == typ:
			return f
		case f.Type != "presence":
			t.Fatalf("got %+v, want a %s frame", f, typ)
		}
	}
}

// nextResult reads the next message or error frame, skipping presence.
func nextResult(t *testing.T, c *websocket.Conn) frame {
	t.Helper()
	for {
		if f := read(t, c); f.Type != "presence" {
			return f
		}
	}
}

// waitPresence reads frames until one lists exactly names.
func waitPresence(t *testing.T, c *websocket.Conn, names ...string) {
	t.Helper()
	for {
		f := next(t, c, "presence")
		if slices.Equal(f.Names, names) {
			return
		}
	}
}

func say(t *testing.T, c *websocket.Conn, text string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"type": "message", "text": text})
	if err := c.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
}

func TestChat_HistoryOnJoinIsTheLast100OldestFirst(t *testing.T) {
	t.Parallel()
	env := serve(t)
	ada, history := join(t, env, "history", "ada")
	if len(history) != 0 {
		t.Fatalf("a new room's history: %v", history)
	}
	for i := range 120 {
		say(t, ada, fmt.Sprintf("m%d", i))
		if f := next(t, ada, "message"); f.Text != fmt.Sprintf("m%d", i) || f.Name != "ada" {
			t.Fatalf("message %d came back as %+v", i, f)
		}
		env.Advance(time.Second) // the rate limiter's bucket gets a token back
	}
	_, history = join(t, env, "history", "bob")
	if len(history) != 100 {
		t.Fatalf("history of %d messages, want 100", len(history))
	}
	for i, m := range history {
		if want := fmt.Sprintf("m%d", 20+i); m.Text != want || m.Name != "ada" {
			t.Fatalf("history[%d] = %+v, want text %s from ada", i, m, want)
		}
		at, err := time.Parse(time.RFC3339, m.At)
		if err != nil {
			t.Fatalf("history[%d].at: %v", i, err)
		}
		// Message i went out after 20+i advances of the app's clock.
		if want := roosttest.Epoch.Add(time.Duration(20+i) * time.Second); !at.Equal(want) {
			t.Fatalf("history[%d].at = %s, want %s on the app's clock", i, at, want)
		}
	}
	if history[0].At >= history[99].At {
		t.Fatalf("history not oldest first: %s, then %s", history[0].At, history[99].At)
	}
}

func TestChat_TwoClientsSeeEachOthersMessagesAndPresence(t *testing.T) {
	t.Parallel()
	env := serve(t)
	ada, _ := join(t, env, "two words?", "ada")
	waitPresence(t, ada, "ada")
	bob, _ := join(t, env, "two words?", "  bob ")
	waitPresence(t, bob, "ada", "bob")
	waitPresence(t, ada, "ada", "bob")

	say(t, ada, "hello bob")
	for _, c := range []*websocket.Conn{ada, bob} {
		if f := next(t, c, "message"); f.Name != "ada" || f.Text != "hello bob" {
			t.Fatalf("got %+v, want ada's hello", f)
		}
	}
	say(t, bob, "  hi ada  ")
	for _, c := range []*websocket.Conn{ada, bob} {
		if f := next(t, c, "message"); f.Name != "bob" || f.Text != "hi ada" {
			t.Fatalf("got %+v, want bob's trimmed hi", f)
		}
	}

	// A second socket of a name lists it once; leaving updates everyone.
	ada2, _ := join(t, env, "two words?", "ada")
	waitPresence(t, ada2, "ada", "bob")
	leave(t, ada2)
	leave(t, bob)
	waitPresence(t, ada, "ada")

	other, history := join(t, env, "elsewhere", "eve")
	waitPresence(t, other, "eve")
	if len(history) != 0 {
		t.Fatalf("another room has history %v", history)
	}
}

// leave closes c with 1000 and waits for the server's close.
func leave(t *testing.T, c *websocket.Conn) {
	t.Helper()
	if err := c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	for {
		c.SetReadDeadline(time.Now().Add(roosttest.WaitTimeout))
		if _, _, err := c.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Fatalf("leave: %v, want the server's close 1000", err)
			}
			return
		}
	}
}

func TestChat_RateLimitsARapidSender(t *testing.T) {
	t.Parallel()
	env := serve(t)
	ada, _ := join(t, env, "rapid", "ada")
	bob, _ := join(t, env, "rapid", "bob")
	const sent = 15
	for i := range sent {
		say(t, ada, fmt.Sprintf("spam %d", i))
	}
	var delivered, limited int
	for range sent {
		switch f := nextResult(t, ada); {
		case f.Type == "message":
			delivered++
		case f.Type == "error" && f.Code == "rate_limited":
			if f.Message != "You are sending too fast: wait a few seconds." {
				t.Fatalf("rate_limited message %q", f.Message)
			}
			limited++
		default:
			t.Fatalf("got %+v", f)
		}
	}
	// The clock stands still: the bucket lets exactly its capacity through.
	if delivered != bucketCapacity || limited != sent-bucketCapacity {
		t.Fatalf("%d delivered and %d rate-limited, want %d and %d", delivered, limited, bucketCapacity, sent-bucketCapacity)
	}
	for i := range delivered {
		if f := next(t, bob, "message"); f.Text != fmt.Sprintf("spam %d", i) {
			t.Fatalf("bob got %+v, want spam %d", f, i)
		}
	}
}

func TestChat_RefusesBadNames(t *testing.T) {
	t.Parallel()
	env := serve(t)
	wsURL := "ws" + strings.TrimPrefix(env.URL(), "http") // Env.DialWS would fail the test
	for _, name := range []string{"", "   ", strings.Repeat("x", 33)} {
		c, resp, err := websocket.DefaultDialer.DialContext(t.Context(), wsURL+roomPath("names", name), nil)
		if err == nil {
			c.Close()
			t.Fatalf("name %q: the upgrade was accepted", name)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"code":"bad_request"`) {
			t.Fatalf("name %q: %d %s, want 400 bad_request", name, resp.StatusCode, body)
		}
	}
	if c, _ := join(t, env, "names", strings.Repeat("é", 32)); c == nil {
		t.Fatal("no socket")
	}
}

func TestChat_AnswersBadMessagesWithAnError(t *testing.T) {
	t.Parallel()
	env := serve(t)
	ada, _ := join(t, env, "bad", "ada")
	for _, raw := range []string{
		`{"type":"message"`,
		`{"type":"shout","text":"hi"}`,
		`{"type":"message","text":"   "}`,
		`{"type":"message","text":"` + strings.Repeat("x", 1001) + `"}`,
	} {
		if err := ada.WriteMessage(websocket.TextMessage, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		if f := next(t, ada, "error"); f.Code != "bad_request" || f.Message == "" {
			t.Fatalf("%.40s: got %+v, want a bad_request error", raw, f)
		}
	}
	say(t, ada, "fine")
	if f := next(t, ada, "message"); f.Text != "fine" {
		t.Fatalf("got %+v after the bad messages", f)
	}
}

func TestChat_ServesThePage(t *testing.T) {
	t.Parallel()
	env := serve(t)
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/", "text/html", `id="join-form"`},
		{"/static/chat.js", "javascript", "RoostClient"},
		{"/static/roost-client/socket.js", "javascript", "class RoostSocket"},
		{"/static/chat.css", "text/css", "#messages"},
	} {
		resp, err := env.Client().Get(env.URL() + tc.path) // Env.HTTP without the header
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), tc.contentType) ||
			!strings.Contains(string(body), tc.contains) {
			t.Fatalf("GET %s: %d %s, want 200 %s holding %s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.contentType, tc.contains)
		}
	}
	if status, body := env.HTTP("GET", "/static/nothing.js", ""); status != http.StatusNotFound {
		t.Fatalf("GET /static/nothing.js: %d %s, want 404", status, body)
	}
}

func TestTake(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		b      bucket
		now    time.Time
		want   bucket
		wantOK bool
	}{
		{"a new bucket is full", bucket{}, t0, bucket{Tokens: 9, At: t0}, true},
		{"an empty bucket refuses", bucket{Tokens: 0.5, At: t0}, t0, bucket{Tokens: 0.5, At: t0}, false},
		{"one token a second", bucket{Tokens: 0, At: t0}, t0.Add(time.Second), bucket{Tokens: 0, At: t0.Add(time.Second)}, true},
		{"half a second is not enough", bucket{Tokens: 0, At: t0}, t0.Add(500 * time.Millisecond),
			bucket{Tokens: 0.5, At: t0.Add(500 * time.Millisecond)}, false},
		{"refill stops at the capacity", bucket{Tokens: 3, At: t0}, t0.Add(time.Hour), bucket{Tokens: 9, At: t0.Add(time.Hour)}, true},
		{"a clock that went back refills nothing", bucket{Tokens: 2, At: t0}, t0.Add(-time.Hour), bucket{Tokens: 1, At: t0}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := take(tt.b, tt.now)
			if ok != tt.wantOK || got.Tokens != tt.want.Tokens || !got.At.Equal(tt.want.At) {
				t.Fatalf("take(%+v, %v) = %+v, %v; want %+v, %v", tt.b, tt.now, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestTake_TenAtOnceThenOneASecond(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var b bucket
	var ok bool
	allowed := 0
	for range 15 {
		if b, ok = take(b, now); ok {
			allowed++
		}
	}
	if allowed != bucketCapacity {
		t.Fatalf("%d of 15 at once allowed, want %d", allowed, bucketCapacity)
	}
	for i := range 3 {
		now = now.Add(time.Second)
		if b, ok = take(b, now); !ok {
			t.Fatalf("second %d: refused", i+1)
		}
		if _, ok = take(b, now); ok {
			t.Fatalf("second %d: a second message in the same second allowed", i+1)
		}
	}
}

func TestChat_HistorySurvivesARestart(t *testing.T) {
	t.Parallel()
	env := serve(t)
	ada, _ := join(t, env, "kept", "ada")
	say(t, ada, "before the restart")
	next(t, ada, "message")
	env.Restart() // the room's instance and sockets are gone; its table stays
	_, history := join(t, env, "kept", "bob")
	if len(history) != 1 || history[0].Text != "before the restart" || history[0].Name != "ada" {
		t.Fatalf("history after a restart: %+v", history)
	}
}
