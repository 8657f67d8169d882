package roost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/sockets"
	"github.com/roost-dev/roost/internal/store"
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
type WebSocket struct{ s *sockets.Socket }

// ID returns the socket's ID, unique in the server.
func (ws *WebSocket) ID() string { return ws.s.ID() }

// Tags returns the tags the socket was accepted with.
func (ws *WebSocket) Tags() []string { return ws.s.Tags() }

// SendText sends a text message once the event's writes are durable (the
// output gate). It never blocks; a socket that falls too far behind is
// closed (1008), and sends to a closed socket are dropped.
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
	runtime.AfterCommit(ctx, func() { ws.s.Send(binary, data) })
}

// Close closes the socket with code and reason once the event's writes are
// durable, after the messages sent before.
func (ws *WebSocket) Close(ctx context.Context, code int, reason string) {
	runtime.AfterCommit(ctx, func() { ws.s.Close(code, reason) })
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
// ServeHTTP) of the object, with optional tags to find the socket by. The
// handshake completes when the event's writes are durable; messages sent
// before it wait for it. Only requests that reached the object through the
// HTTP gateway can be upgraded. The object's class must implement
// [WebSocketHandler].
func (s *State) AcceptWebSocket(w http.ResponseWriter, r *http.Request, tags ...string) (*WebSocket, error) {
	rec, ok := w.(*recorder)
	switch {
	case !ok:
		return nil, errcode.New(errcode.BadRequest, "AcceptWebSocket: w is not the ResponseWriter Roost gave the handler")
	case !websocket.IsWebSocketUpgrade(r):
		return nil, sockets.ErrNotUpgrade
	case rec.socket != nil:
		return nil, errcode.New(errcode.BadRequest, "AcceptWebSocket: the request was already accepted")
	case !s.app.class(s.act.Class()).sockets:
		return nil, errcode.New(errcode.NotImplemented, "class %q has no WebSocketMessage method (implement roost.WebSocketHandler)", s.act.Class())
	}
	if len(tags) > maxTags {
		return nil, errcode.New(errcode.BadRequest, "AcceptWebSocket: %d tags, at most %d", len(tags), maxTags)
	}
	for _, t := range tags {
		if t == "" || len(t) > maxTagLen {
			return nil, errcode.New(errcode.BadRequest, "AcceptWebSocket: a tag must be 1 to %d bytes", maxTagLen)
		}
	}
	sock, err := s.app.hub.Accept(sockets.Key{Class: s.act.Class(), ID: s.act.ID()}, tags)
	if err != nil {
		return nil, err
	}
	rec.socket = sock
	rec.WriteHeader(http.StatusSwitchingProtocols)
	return &WebSocket{s: sock}, nil
}

// Limits of tags, as Cloudflare's.
const (
	maxTags   = 10
	maxTagLen = 256
)

// SetWebSocketAutoResponse makes the runtime answer a text message equal to
// request with response on any of the object's sockets, without waking the
// object (a keep-alive "ping" → "pong" costs no activation). An empty
// request removes it. It lasts while the object has sockets.
func (s *State) SetWebSocketAutoResponse(request, response string) {
	s.app.hub.SetAutoResponse(sockets.Key{Class: s.act.Class(), ID: s.act.ID()},
		sockets.AutoResponse{Request: request, Response: response})
}

// AutoResponseTime returns when the runtime last answered the socket's
// automatic request (zero: never); see [State.SetWebSocketAutoResponse].
func (ws *WebSocket) AutoResponseTime() time.Time { return ws.s.AutoResponseTime() }

// WebSockets returns the object's sockets: all of them, or those accepted
// with tag.
func (s *State) WebSockets(tag string) []*WebSocket {
	socks := s.app.hub.Sockets(sockets.Key{Class: s.act.Class(), ID: s.act.ID()}, tag)
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
	socks := s.app.hub.Sockets(sockets.Key{Class: s.act.Class(), ID: s.act.ID()}, tag)
	runtime.AfterCommit(ctx, func() { sockets.Broadcast(socks, msg.Binary, msg.Data) })
	return len(socks)
}

// deliverSocket hands what happened on a socket to its object, as an event.
func (a *App) deliverSocket(sock *sockets.Socket, ev sockets.Event) {
	k := sock.Key()
	ws := &WebSocket{s: sock}
	event := &runtime.Event{Class: k.Class, ID: k.ID, Kind: runtime.KindWebSocket,
		Fn: func(ctx context.Context, inst any, _ *store.DB) error {
			switch ev.Kind {
			case sockets.Message:
				h, ok := inst.(WebSocketHandler)
				if !ok {
					return errcode.New(errcode.NotImplemented, "the object has a WebSocket but no WebSocketMessage method")
				}
				return handlerError(h.WebSocketMessage(ctx, ws, WebSocketMessage{Binary: ev.Binary, Data: ev.Data}))
			case sockets.Closed:
				if h, ok := inst.(WebSocketCloseHandler); ok {
					return handlerError(h.WebSocketClose(ctx, ws, ev.Code, ev.Reason))
				}
			case sockets.Failed:
				if h, ok := inst.(WebSocketErrorHandler); ok {
					return handlerError(h.WebSocketError(ctx, ws, ev.Err))
				}
			}
			return nil
		}}
	// An overloaded object pushes back: the socket's next frames wait (and
	// its client's TCP window fills) instead of being dropped.
	backoff := time.Millisecond
	err := a.rt.Deliver(a.rt.Context(), event)
	for errors.Is(err, runtime.ErrOverloaded) {
		time.Sleep(backoff)
		backoff = min(2*backoff, 100*time.Millisecond)
		err = a.rt.Deliver(a.rt.Context(), event)
	}
	if err != nil {
		a.log.Debug("WebSocket event failed", "class", k.Class, "id", k.ID.String(), "socket", sock.ID(), "err", err)
	}
}

// upgradeBody is the body of the 101 response of an accepted socket: the
// gateway hands it the client's connection. Closed without an upgrade (the
// response did not go through the gateway), it drops the socket.
type upgradeBody struct {
	hub  *sockets.Hub
	sock *sockets.Socket
	used bool
}

func (b *upgradeBody) Read([]byte) (int, error) { return 0, errNoUpgrade }

func (b *upgradeBody) Close() error {
	if !b.used {
		b.used = true
		b.hub.Abort(b.sock)
	}
	return nil
}

func (b *upgradeBody) Upgrade(w http.ResponseWriter, r *http.Request) error {
	b.used = true
	return b.hub.Upgrade(b.sock, w, r)
}

// checkOrigin allows upgrade requests without Origin (not from a browser),
// from the server's own host, and from the allowed origins ("*": any).
func checkOrigin(allowed []string) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" || slices.Contains(allowed, "*") || slices.Contains(allowed, origin) {
			return true
		}
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
}

var errNoUpgrade = errcode.New(errcode.BadRequest, "a WebSocket upgrade has no body to read")
