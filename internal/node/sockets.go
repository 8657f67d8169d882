package node

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/sockets"
	"github.com/roost-dev/roost/internal/store"
)

// deliverSocket hands what happened on a socket to its object, as an event.
// An object whose mailbox is full pushes back: the event waits for room,
// so the socket's next frames wait (and its client's TCP window fills)
// instead of being dropped.
func (n *Node) deliverSocket(sock *sockets.Socket, ev sockets.Event) {
	k := sock.Key()
	if ev.Kind == sockets.Message && !ev.Binary {
		if c, ok := n.class(k.Class); ok && c.SocketRPC {
			if call, ok := parseSocketCall(ev.Data); ok {
				n.serveSocketCall(c, sock, call)
				return
			}
		}
	}
	err := n.rt.Deliver(n.rt.Context(), &runtime.Event{Class: k.Class, ID: k.ID, Kind: runtime.KindWebSocket, WaitForRoom: true,
		Fn: func(ctx context.Context, inst any, _ *store.DB) error {
			return HandlerError(n.socketEvent(ctx, inst, sock, ev))
		}})
	if err != nil {
		n.log.Debug("WebSocket event failed", "class", k.Class, "id", k.ID.String(), "socket", sock.ID(), "err", err)
	}
}

func (n *Node) socketEvent(ctx context.Context, inst any, sock *sockets.Socket, ev sockets.Event) error {
	switch ev.Kind {
	case sockets.Message:
		return n.handlers.SocketMessage(ctx, inst, sock, ev.Binary, ev.Data)
	case sockets.Closed:
		return n.handlers.SocketClose(ctx, inst, sock, ev.Code, ev.Reason)
	case sockets.Failed:
		return n.handlers.SocketError(ctx, inst, sock, ev.Err)
	}
	return nil
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
