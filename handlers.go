package roost

import (
	"context"
	"net/http"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/node"
)

// handlers is how the node reaches the user's code: each event's instance
// is asked for the handler interface of this package that the event needs.
type handlers struct{}

func (handlers) ServeHTTP(_ context.Context, inst any, w http.ResponseWriter, r *http.Request) error {
	switch h := inst.(type) {
	case FetchHandler:
		return h.Fetch(w, r)
	case http.Handler:
		h.ServeHTTP(w, r)
		return nil
	}
	return errNotHandler
}

func (handlers) Fire(ctx context.Context, inst any, f node.Fire) error {
	if f.Name == "" {
		h, ok := inst.(AlarmHandler)
		if !ok {
			return errcode.New(errcode.NotImplemented, "the object has an alarm but no Alarm method")
		}
		return h.Alarm(ctx, AlarmInfo{RetryCount: f.Attempt, IsRetry: f.Attempt > 0, Scheduled: f.Scheduled})
	}
	h, ok := inst.(TimerHandler)
	if !ok {
		return errcode.New(errcode.NotImplemented, "the object has a timer but no Timer method")
	}
	return h.Timer(ctx, TimerFire{Name: f.Name, Kind: f.Kind, FireID: f.FireID, Scheduled: f.Scheduled,
		Payload: f.Payload, Attempt: f.Attempt, Missed: f.Missed})
}

func (handlers) SocketMessage(ctx context.Context, inst any, s *node.Socket, binary bool, data []byte) error {
	h, ok := inst.(WebSocketHandler)
	if !ok {
		return errcode.New(errcode.NotImplemented, "the object has a WebSocket but no WebSocketMessage method")
	}
	return h.WebSocketMessage(ctx, &WebSocket{s: s}, WebSocketMessage{Binary: binary, Data: data})
}

func (handlers) SocketClose(ctx context.Context, inst any, s *node.Socket, code int, reason string) error {
	if h, ok := inst.(WebSocketCloseHandler); ok {
		return h.WebSocketClose(ctx, &WebSocket{s: s}, code, reason)
	}
	return nil
}

func (handlers) SocketError(ctx context.Context, inst any, s *node.Socket, err error) error {
	if h, ok := inst.(WebSocketErrorHandler); ok {
		return h.WebSocketError(ctx, &WebSocket{s: s}, err)
	}
	return nil
}
