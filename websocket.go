package roost

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/roost-dev/roost/internal/node"
)

// WebSocketHandler is implemented by objects that accept WebSockets
// ([State.AcceptWebSocket]). Each message is an event of the object: if the
// object left memory since (hibernation), it is constructed again first,
// and the socket is still there. Messages of one socket arrive in order.
type WebSocketHandler interface {
	WebSocketMessage(ctx context.Context, ws *WebSocket, msg WebSocketMessage) error
}

// WebSocketCloseHandler is implemented by objects that want to hear when a
// client closes a socket (code 1005 when it sent none).
type WebSocketCloseHandler interface {
	WebSocketClose(ctx context.Context, ws *WebSocket, code int, reason string) error
}

// WebSocketErrorHandler is implemented by objects that want to hear when a
// socket fails (a broken connection, a message over the size limit).
type WebSocketErrorHandler interface {
	WebSocketError(ctx context.Context, ws *WebSocket, err error) error
}

// WebSocketMessage is a message received on a socket.
type WebSocketMessage struct {
	Binary bool
	Data   []byte
}

// Text returns the message's data as a string.
func (m WebSocketMessage) Text() string { return string(m.Data) }

// WebSocket is a socket accepted by an object. The runtime holds the
// connection: it outlives the object's instance, and a new instance sees it
// again through [State.WebSockets].
type WebSocket struct{ s *node.Socket }

// ID returns the socket's ID, unique in the server.
func (ws *WebSocket) ID() string { return ws.s.ID() }

// Tags returns the tags the socket was accepted with.
func (ws *WebSocket) Tags() []string { return ws.s.Tags() }

// SendText sends a text message once the event's writes are durable (the
// output gate). It never blocks; a socket that falls too far behind is
// closed (1008; 1013 when the queues of all sockets are full, see
// WebSocketConfig), and sends to a closed socket are dropped. Text must
// be valid UTF-8: browsers fail a connection that receives anything else.
func (ws *WebSocket) SendText(ctx context.Context, text string) {
	ws.send(ctx, false, []byte(text))
}

// SendBinary sends a binary message, as SendText does.
func (ws *WebSocket) SendBinary(ctx context.Context, data []byte) {
	ws.send(ctx, true, data)
}

// Send sends msg, as SendText does.
func (ws *WebSocket) Send(ctx context.Context, msg WebSocketMessage) {
	ws.send(ctx, msg.Binary, msg.Data)
}

func (ws *WebSocket) send(ctx context.Context, binary bool, data []byte) {
	node.AfterCommit(ctx, func() { ws.s.Send(binary, data) })
}

// Close closes the socket with code and reason once the event's writes are
// durable, after the messages sent before.
func (ws *WebSocket) Close(ctx context.Context, code int, reason string) {
	node.AfterCommit(ctx, func() { ws.s.Close(code, reason) })
}

// SetAttachment stores v (as JSON, at most 16 KiB) with the socket: it
// survives the object's hibernation, so a new instance can tell who is on
// the socket.
func (ws *WebSocket) SetAttachment(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("WebSocket attachment: %w", err)
	}
	return ws.s.SetAttachment(b)
}

// Attachment decodes the socket's attachment into v and reports whether it
// has one.
func (ws *WebSocket) Attachment(v any) (bool, error) {
	b := ws.s.Attachment()
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return true, fmt.Errorf("WebSocket attachment: decode into %T: %w", v, err)
	}
	return true, nil
}

// AcceptWebSocket accepts the WebSocket upgrade request r in a Fetch (or
// ServeHTTP) of the object, with optional tags to find the socket by (at
// most 10, each 1 to 256 bytes, as Cloudflare's). The handshake completes when the event's writes are durable; messages sent
// before it wait for it. Only requests that reached the object through the
// HTTP gateway can be upgraded. The object's class must implement
// [WebSocketHandler].
func (s *State) AcceptWebSocket(w http.ResponseWriter, r *http.Request, tags ...string) (*WebSocket, error) {
	sock, err := s.act.AcceptWebSocket(w, r, tags)
	if err != nil {
		return nil, err
	}
	return &WebSocket{s: sock}, nil
}

// SetWebSocketAutoResponse makes the runtime answer a text message equal to
// request with response on any of the object's sockets, without waking the
// object (a keep-alive "ping" → "pong" costs no activation). An empty
// request removes it. It lasts while the object has sockets.
func (s *State) SetWebSocketAutoResponse(request, response string) {
	s.act.SetAutoResponse(request, response)
}

// AutoResponseTime returns when the runtime last answered the socket's
// automatic request (zero: never); see [State.SetWebSocketAutoResponse].
func (ws *WebSocket) AutoResponseTime() time.Time { return ws.s.AutoResponseTime() }

// WebSockets returns the object's sockets: all of them, or those accepted
// with tag.
func (s *State) WebSockets(tag string) []*WebSocket {
	socks := s.act.WebSockets(tag)
	out := make([]*WebSocket, len(socks))
	for i, sock := range socks {
		out[i] = &WebSocket{s: sock}
	}
	return out
}

// Broadcast sends msg to every socket of the object (those with tag, if it
// is not empty) once the event's writes are durable, and returns how many
// it was sent to. A closed or failing socket stops no one else.
func (s *State) Broadcast(ctx context.Context, msg WebSocketMessage, tag string) int {
	return s.act.Broadcast(ctx, msg.Binary, msg.Data, tag, nil)
}

// BroadcastExcept is [State.Broadcast] to every socket but except: a
// relay of what a client sent to the others. The message is framed once
// for all, which a loop of Send on each socket cannot do.
func (s *State) BroadcastExcept(ctx context.Context, msg WebSocketMessage, tag string, except *WebSocket) int {
	var sock *node.Socket
	if except != nil {
		sock = except.s
	}
	return s.act.Broadcast(ctx, msg.Binary, msg.Data, tag, sock)
}
