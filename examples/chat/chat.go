// Package chat is the chat demo of `roost serve`: a page at / and a
// WebSocket per room at /chatroom/{room}?name={name}, with JSON messages.
//
// Server to client: {"type":"history","messages":[…]} once on join (the
// room's last 100 messages, oldest first); {"type":"presence","names":[…]}
// to everyone on every join and leave; {"type":"message","name","text","at"}
// to everyone for each message; {"type":"error","code","message"} to the
// sender alone (codes bad_request and rate_limited). Client to server:
// {"type":"message","text":"…"}.
//
// The chatroom object keeps nothing in memory between events, so it
// hibernates with its sockets open: each socket's attachment holds who is
// on it, and the history is a table of the room's SQLite database. Each
// message first asks the sender's rate limiter (an object of class
// "ratelimit" per client address) through typed RPC.
package chat

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/roost-dev/roost"
)

// Limits of the chat.
const (
	maxName     = 32   // characters of a name, after trimming
	maxText     = 1000 // characters of a message, after trimming
	historySize = 100  // messages sent on join
	keepSize    = 1000 // messages a room keeps
)

// atFormat is RFC 3339 with milliseconds, which every browser parses.
const atFormat = "2006-01-02T15:04:05.000Z07:00"

// Register registers the classes "chatroom" and "ratelimit" on app and
// mounts the page: GET / and GET /static/.
// The rate limiters and the messages' times follow the app's clock.
func Register(app *roost.App) {
	limits := roost.RegisterWithOptions(app, "ratelimit",
		func(st *roost.State) (*Limiter, error) { return &Limiter{st: st}, nil },
		&roost.ClassOptions{Methods: []roost.MethodHandler{Allow}})
	roost.RegisterWithOptions(app, "chatroom",
		func(st *roost.State) (*Room, error) { return newRoom(st, limits) }, nil)
	app.Handle("GET /{$}", pageHandler())
	app.Handle("GET /static/", staticHandler())
}

// Room is one chat room. Its fields are set up at construction and never
// change: who is in the room lives in the sockets' attachments, and the
// history in the database.
type Room struct {
	st     *roost.State
	limits *roost.Namespace
}

// member is a socket's attachment.
type member struct {
	Name string `json:"name"`
	Addr string `json:"addr"` // the client's host, the key of its rate limiter
}

// message is a chat message, as stored and as sent.
type message struct {
	Name string `json:"name"`
	Text string `json:"text"`
	At   string `json:"at"`
}

func newRoom(st *roost.State, limits *roost.Namespace) (*Room, error) {
	return &Room{st: st, limits: limits}, nil
}

// Fetch accepts a WebSocket whose ?name= holds 1 to 32 characters, sends it
// the history and tells everyone the new presence.
func (r *Room) Fetch(w http.ResponseWriter, req *http.Request) error {
	name := strings.TrimSpace(req.URL.Query().Get("name"))
	if n := utf8.RuneCountInString(name); n < 1 || n > maxName {
		roost.WriteError(w, roost.NewError("bad_request", "?name= must hold 1 to 32 characters"))
		return nil
	}
	ws, err := r.st.AcceptWebSocket(w, req)
	if roost.ErrorCode(err) == "bad_request" {
		w.Header().Set("Upgrade", "websocket")
		roost.WriteError(w, roost.NewError("upgrade_required", "GET /chatroom/{room}?name={name} with a WebSocket upgrade"))
		return nil
	}
	if err != nil {
		return err
	}
	if err := ws.SetAttachment(member{Name: name, Addr: clientHost(req.RemoteAddr)}); err != nil {
		return err
	}
	history, err := r.history(req.Context())
	if err != nil {
		return err
	}
	send(req.Context(), ws, map[string]any{"type": "history", "messages": history})
	r.broadcastPresence(req.Context(), "")
	return nil
}

// clientHost returns the host of a RemoteAddr (host:port).
func clientHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// WebSocketMessage checks a message, asks the sender's rate limiter, stores
// the message and sends it to everyone.
func (r *Room) WebSocketMessage(ctx context.Context, ws *roost.WebSocket, msg roost.WebSocketMessage) error {
	var in struct{ Type, Text string }
	if msg.Binary || json.Unmarshal(msg.Data, &in) != nil || in.Type != "message" {
		sendError(ctx, ws, "bad_request", `Send JSON: {"type":"message","text":"…"}.`)
		return nil
	}
	text := strings.TrimSpace(in.Text)
	if n := utf8.RuneCountInString(text); n < 1 || n > maxText {
		sendError(ctx, ws, "bad_request", "A message holds 1 to 1000 characters.")
		return nil
	}
	var m member
	if _, err := ws.Attachment(&m); err != nil {
		return err
	}
	d, err := Allow.Call(ctx, r.limits.Get(r.limits.IDFromName(m.Addr)), AllowRequest{})
	switch {
	case err != nil:
		sendError(ctx, ws, roost.ErrorCode(err), "The message was not sent: try again.")
		return nil
	case !d.Allowed:
		sendError(ctx, ws, "rate_limited", "You are sending too fast: wait a few seconds.")
		return nil
	}
	out := message{Name: m.Name, Text: text, At: r.st.Now().UTC().Format(atFormat)}
	if err := r.store(ctx, out); err != nil {
		return err
	}
	r.broadcast(ctx, map[string]any{"type": "message", "name": out.Name, "text": out.Text, "at": out.At})
	return nil
}

// WebSocketClose tells the others the new presence.
func (r *Room) WebSocketClose(ctx context.Context, ws *roost.WebSocket, _ int, _ string) error {
	r.broadcastPresence(ctx, ws.ID())
	return nil
}

// WebSocketError tells the others the new presence: the socket is gone.
func (r *Room) WebSocketError(ctx context.Context, ws *roost.WebSocket, _ error) error {
	r.broadcastPresence(ctx, ws.ID())
	return nil
}

// store appends m to the history and drops what is beyond the last 1,000.
// The first message creates the table: joining a room and reading its
// history create no storage.
func (r *Room) store(ctx context.Context, m message) error {
	if _, err := r.st.Storage().Exec(ctx, `CREATE TABLE IF NOT EXISTS messages (
		id INTEGER PRIMARY KEY, name TEXT NOT NULL, text TEXT NOT NULL, at TEXT NOT NULL)`); err != nil {
		return err
	}
	var id int64
	err := r.st.Storage().QueryRow(ctx, `INSERT INTO messages (name, text, at) VALUES (?, ?, ?) RETURNING id`,
		m.Name, m.Text, m.At).Scan(&id)
	if err != nil {
		return err
	}
	_, err = r.st.Storage().Exec(ctx, `DELETE FROM messages WHERE id <= ?`, id-keepSize)
	return err
}

// history returns the last 100 messages, oldest first.
func (r *Room) history(ctx context.Context) ([]message, error) {
	out := []message{}
	if ok, err := r.st.Storage().HasTable(ctx, "messages"); err != nil || !ok {
		return out, err // no message yet
	}
	rows, err := r.st.Storage().Query(ctx, `SELECT name, text, at FROM
		(SELECT id, name, text, at FROM messages ORDER BY id DESC LIMIT ?) ORDER BY id`, historySize)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var m message
		if err := rows.Scan(&m.Name, &m.Text, &m.At); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// broadcastPresence sends everyone the sorted, distinct names on the
// room's sockets, leaving out the socket with ID gone (if not empty).
func (r *Room) broadcastPresence(ctx context.Context, gone string) {
	names := []string{}
	for _, ws := range r.st.WebSockets("") {
		var m member
		if ok, err := ws.Attachment(&m); ws.ID() != gone && ok && err == nil {
			names = append(names, m.Name)
		}
	}
	slices.Sort(names)
	r.broadcast(ctx, map[string]any{"type": "presence", "names": slices.Compact(names)})
}

func (r *Room) broadcast(ctx context.Context, v any) {
	b, _ := json.Marshal(v) // cannot fail: strings and slices of them
	r.st.Broadcast(ctx, roost.WebSocketMessage{Data: b}, "")
}

func send(ctx context.Context, ws *roost.WebSocket, v any) {
	b, _ := json.Marshal(v) // cannot fail: strings and slices of them
	ws.SendText(ctx, string(b))
}

func sendError(ctx context.Context, ws *roost.WebSocket, code, text string) {
	send(ctx, ws, map[string]string{"type": "error", "code": code, "message": text})
}
