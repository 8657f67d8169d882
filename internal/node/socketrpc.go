package node

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/gateway"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/sockets"
	"github.com/roost-dev/roost/internal/store"
)

// socketCall is an RPC call that arrived on a socket of a class with
// SocketRPC: {"rpc":"method","id":…,"params":…}.
type socketCall struct {
	RPC    *string         `json:"rpc"`
	ID     json.RawMessage `json:"id,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
}

// socketReply answers a socketCall.
type socketReply struct {
	RPC    string          `json:"rpc"`
	ID     json.RawMessage `json:"id,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *wireError      `json:"error,omitempty"`
}

type wireError struct {
	Code    errcode.Code `json:"code"`
	Message string       `json:"message"`
}

// parseSocketCall reports whether a text message is a call: a JSON object
// with a string "rpc" member. Anything else is a message for the object.
func parseSocketCall(data []byte) (socketCall, bool) {
	var c socketCall
	if !bytes.Contains(data, []byte(`"rpc"`)) || json.Unmarshal(data, &c) != nil || c.RPC == nil {
		return c, false
	}
	return c, true
}

// serveSocketCall runs a call that arrived on sock as an event of its
// object, like a call over HTTP, and answers on the socket once the
// event's writes are durable (or it failed: then nothing of it stands).
func (n *Node) serveSocketCall(c *Class, sock *sockets.Socket, call socketCall) {
	k, method := sock.Key(), *call.RPC
	params := call.Params
	if len(params) == 0 {
		params = []byte("null")
	}
	start := time.Now()
	var reply []byte // set by the event, read only after it committed
	err := n.rt.Deliver(n.rt.Context(), &runtime.Event{Class: k.Class, ID: k.ID, Kind: runtime.KindRPC, WaitForRoom: true,
		Fn: func(ctx context.Context, inst any, _ *store.DB) error {
			var err error
			reply, err = c.Call(ctx, inst, method, params)
			return err
		}})
	status := "ok"
	out := socketReply{RPC: method, ID: call.ID, Result: reply}
	if err != nil {
		code, msg := gateway.ErrorDetail(err)
		status, out.Result, out.Error = string(code), nil, &wireError{code, msg}
		if code == errcode.Internal {
			n.log.LogAttrs(context.Background(), slog.LevelError, "RPC call over a WebSocket failed",
				slog.String("class", k.Class), slog.String("id", k.ID.String()), slog.String("method", method), slog.Any("err", err))
		}
	}
	n.metrics.RPC(k.Class, method, status, time.Since(start))
	b, err := json.Marshal(out)
	if err != nil { // an id or result that is not JSON cannot come from a decoded call
		b, _ = json.Marshal(socketReply{RPC: method, Error: &wireError{errcode.Internal, "internal error"}})
	}
	sock.Send(false, b)
}
