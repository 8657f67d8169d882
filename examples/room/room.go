// Package room is the room class of `roost serve`: a WebSocket at
// /room/{name} whose every message, text or binary, goes to every socket of
// the room, the sender's too, except RPC calls of its method members
// (see Members). The room keeps nothing in memory between
// messages, so it hibernates: its instance leaves memory after the idle
// timeout while the runtime keeps the sockets open.
package room

import (
	"context"
	"net/http"

	"github.com/roost-dev/roost"
)

// Room is one room.
type Room struct{ st *roost.State }

// New is the constructor.
func New(st *roost.State) (*Room, error) { return &Room{st: st}, nil }

// Register registers the class under name, with its RPC method Members,
// which its sockets also carry.
func Register(app *roost.App, name string) *roost.Namespace {
	return roost.RegisterWithOptions(app, name, New,
		&roost.ClassOptions{Methods: []roost.MethodHandler{Members}, WebSocketRPC: true})
}

// MembersRequest is the request of Members: nothing.
type MembersRequest struct{}

// MembersResponse is the response of Members.
type MembersResponse struct {
	// Members is the number of sockets in the room.
	Members int `json:"members"`
}

// Members tells how many sockets the room has: over HTTP (POST
// /room/{name}/rpc/members), from Go, or over one of the room's sockets
// ({"rpc":"members","id":1}).
var Members = roost.NewMethod("members", (*Room).members)

func (r *Room) members(context.Context, MembersRequest) (MembersResponse, error) {
	return MembersResponse{Members: len(r.st.WebSockets(""))}, nil
}

// Fetch accepts WebSocket upgrades; anything else gets 426.
func (r *Room) Fetch(w http.ResponseWriter, req *http.Request) error {
	if _, err := r.st.AcceptWebSocket(w, req); err != nil {
		if roost.ErrorCode(err) == "bad_request" {
			w.Header().Set("Upgrade", "websocket")
			roost.WriteError(w, roost.NewError("upgrade_required", "GET /room/{name} with a WebSocket upgrade"))
			return nil
		}
		return err
	}
	return nil
}

// WebSocketMessage sends msg to every socket of the room.
func (r *Room) WebSocketMessage(ctx context.Context, ws *roost.WebSocket, msg roost.WebSocketMessage) error {
	r.st.Broadcast(ctx, msg, "")
	return nil
}
