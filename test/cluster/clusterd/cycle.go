package main

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/roost-dev/roost"
)

// bounceMethod is cyc's RPC method Bounce (set in init: Bounce calls it).
var bounceMethod *roost.Method[*cyc, BounceRequest, BounceReply]

func init() { bounceMethod = roost.NewMethod("Bounce", (*cyc).Bounce) }

// BounceRequest names the objects a bounce goes through next, in order.
type BounceRequest struct{ Path []string }

// BounceReply names the node of the last object of the path.
type BounceReply struct{ Node string }

// cyc passes a call on along a path of cyc objects: a path that comes back
// to an object already in the chain is a call cycle.
type cyc struct {
	ns   *roost.Namespace
	node string
}

// Bounce calls Bounce on the first object of the path with the rest.
func (o *cyc) Bounce(ctx context.Context, req BounceRequest) (BounceReply, error) {
	if len(req.Path) == 0 {
		return BounceReply{o.node}, nil
	}
	return bounceMethod.Call(ctx, o.ns.GetByName(req.Path[0]), BounceRequest{req.Path[1:]})
}

// Fetch answers GET /cyc/{name}?path=a,b,…: the node that ends the
// bounce along the path (this node's name for no path).
func (o *cyc) Fetch(w http.ResponseWriter, r *http.Request) error {
	var path []string
	if p := r.URL.Query().Get("path"); p != "" {
		path = strings.Split(p, ",")
	}
	reply, err := o.Bounce(r.Context(), BounceRequest{path})
	if err == nil {
		_, err = io.WriteString(w, reply.Node)
	}
	return err
}

// echo is a room of WebSockets: every message goes to every socket of the
// object, the sender's too; GET without an upgrade answers the node that
// owns it.
type echo struct {
	st   *roost.State
	node string
}

func (o *echo) Fetch(w http.ResponseWriter, r *http.Request) error {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		_, err := io.WriteString(w, o.node)
		return err
	}
	_, err := o.st.AcceptWebSocket(w, r)
	return err
}

// WebSocketMessage sends msg, prefixed with the owner's name, to every socket.
func (o *echo) WebSocketMessage(ctx context.Context, _ *roost.WebSocket, msg roost.WebSocketMessage) error {
	o.st.Broadcast(ctx, roost.WebSocketMessage{Data: []byte(o.node + ": " + msg.Text())}, "")
	return nil
}
