package node

import (
	"context"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/sockets"
	"github.com/roost-dev/roost/internal/store"
)

// Activation is one life of an object in memory, as its constructor and
// handlers see it (through roost.State): the runtime's activation (ID,
// class, database, BlockConcurrencyWhile) and the node's services for it
// (timers, sockets, the clock).
type Activation struct {
	*runtime.Activation
	n     *Node
	class *Class
}

// Now returns the node clock's time.
func (a *Activation) Now() time.Time { return a.n.cfg.Clock.Now() }

// SetAlarm sets the object's alarm to at; it commits with the event.
func (a *Activation) SetAlarm(ctx context.Context, at time.Time) error {
	db, err := a.timerDB(ctx, "alarm")
	if err != nil {
		return err
	}
	if at.IsZero() {
		return errcode.New(errcode.BadRequest, "SetAlarm: the time is zero")
	}
	return db.SetTimer(ctx, store.Timer{Kind: "alarm", Due: at, Scheduled: at})
}

// Alarm returns the time the alarm is set for, and false if none is.
func (a *Activation) Alarm(ctx context.Context) (time.Time, bool, error) {
	db, err := a.DB()
	if err != nil {
		return time.Time{}, false, err
	}
	t, ok, err := db.Timer(ctx, "")
	return t.Scheduled, ok, err
}

// DeleteAlarm removes the alarm, if one is set.
func (a *Activation) DeleteAlarm(ctx context.Context) error {
	db, err := a.DB()
	if err != nil {
		return err
	}
	_, err = db.DeleteTimer(ctx, "")
	return err
}

// Schedule sets a named one-shot timer; it commits with the event.
func (a *Activation) Schedule(ctx context.Context, name string, at time.Time, payload []byte) error {
	db, err := a.timerDB(ctx, "timer")
	if err != nil {
		return err
	}
	if err := a.checkTimer(name, payload); err != nil {
		return err
	}
	if at.IsZero() {
		return errcode.New(errcode.BadRequest, "Schedule %q: the time is zero", name)
	}
	return db.SetTimer(ctx, store.Timer{Name: name, Kind: TimerOnce, Due: at, Scheduled: at, Payload: payload})
}

// Cron sets a named cron schedule; it commits with the event.
func (a *Activation) Cron(ctx context.Context, name, spec string, payload []byte) error {
	db, err := a.timerDB(ctx, "timer")
	if err != nil {
		return err
	}
	if err := a.checkTimer(name, payload); err != nil {
		return err
	}
	next, err := cronFirst(name, spec, a.Now())
	if err != nil {
		return err
	}
	return db.SetTimer(ctx, store.Timer{Name: name, Kind: TimerCron, Due: next, Scheduled: next, Spec: spec, Payload: payload})
}

// CancelTimer removes the named timer or cron schedule and reports whether
// there was one.
func (a *Activation) CancelTimer(ctx context.Context, name string) (bool, error) {
	db, err := a.DB()
	if err != nil {
		return false, err
	}
	if name == "" {
		return false, errcode.New(errcode.BadRequest, "CancelTimer: the name is empty (use DeleteAlarm for the alarm)")
	}
	return db.DeleteTimer(ctx, name)
}

// Timers lists the named timers and cron schedules, earliest first,
// without the alarm.
func (a *Activation) Timers(ctx context.Context) ([]Timer, error) {
	db, err := a.DB()
	if err != nil {
		return nil, err
	}
	ts, err := db.Timers(ctx)
	if err != nil {
		return nil, err
	}
	out := ts[:0]
	for _, t := range ts {
		if t.Name != "" {
			out = append(out, t)
		}
	}
	return out, nil
}

// timerDB returns the database for setting a timer of kind ("alarm" or
// "timer"), if the class has the handler for it.
func (a *Activation) timerDB(ctx context.Context, kind string) (*store.DB, error) {
	db, err := a.DB()
	if err != nil {
		return nil, err
	}
	switch c := a.class; {
	case kind == "alarm" && !c.Alarms:
		return nil, errcode.New(errcode.NotImplemented, "class %q has no Alarm method (implement roost.AlarmHandler) to run its alarm", c.Name)
	case kind == "timer" && !c.Timers:
		return nil, errcode.New(errcode.NotImplemented, "class %q has no Timer method (implement roost.TimerHandler) to run its timers", c.Name)
	}
	return db, ctx.Err()
}

// MaxTimerName is the longest timer name, in bytes.
const MaxTimerName = 256

func (a *Activation) checkTimer(name string, payload []byte) error {
	maxPayload := a.n.MaxValueSize()
	switch {
	case name == "":
		return errcode.New(errcode.BadRequest, "timer name is empty")
	case len(name) > MaxTimerName:
		return errcode.New(errcode.BadRequest, "timer name is %d bytes, want at most %d", len(name), MaxTimerName)
	case !utf8.ValidString(name):
		return errcode.New(errcode.BadRequest, "timer name is not valid UTF-8")
	case len(payload) > maxPayload:
		return &store.LimitError{Limit: "timer payload size", Max: int64(maxPayload), Got: int64(len(payload))}
	}
	return nil
}

// Limits of tags, as Cloudflare's.
const (
	maxTags   = 10
	maxTagLen = 256
)

// AcceptWebSocket accepts the upgrade request r in the object's HTTP event,
// with tags: the handshake completes once the event's writes are durable.
// w must be the ResponseWriter the node gave the handler.
func (a *Activation) AcceptWebSocket(w http.ResponseWriter, r *http.Request, tags []string) (*Socket, error) {
	rec, ok := w.(*recorder)
	switch {
	case !ok:
		return nil, errcode.New(errcode.BadRequest, "AcceptWebSocket: w is not the ResponseWriter Roost gave the handler")
	case !websocket.IsWebSocketUpgrade(r):
		return nil, sockets.ErrNotUpgrade
	case rec.socket != nil:
		return nil, errcode.New(errcode.BadRequest, "AcceptWebSocket: the request was already accepted")
	case !a.class.Sockets:
		return nil, errcode.New(errcode.NotImplemented, "class %q has no WebSocketMessage method (implement roost.WebSocketHandler)", a.class.Name)
	case len(tags) > maxTags:
		return nil, errcode.New(errcode.BadRequest, "AcceptWebSocket: %d tags, at most %d", len(tags), maxTags)
	}
	for _, t := range tags {
		if t == "" || len(t) > maxTagLen {
			return nil, errcode.New(errcode.BadRequest, "AcceptWebSocket: a tag must be 1 to %d bytes", maxTagLen)
		}
	}
	sock, err := a.n.hub.Accept(a.key(), tags)
	if err != nil {
		return nil, err
	}
	rec.socket = sock
	rec.WriteHeader(http.StatusSwitchingProtocols)
	return sock, nil
}

// WebSockets returns the object's sockets: all, or those with tag.
func (a *Activation) WebSockets(tag string) []*Socket { return a.n.hub.Sockets(a.key(), tag) }

// Broadcast sends a message to the object's sockets (those with tag, if
// not empty) but except (if not nil) once the event's writes are durable,
// and returns how many it goes to.
func (a *Activation) Broadcast(ctx context.Context, binary bool, data []byte, tag string, except *Socket) int {
	socks := a.n.hub.Sockets(a.key(), tag)
	if except != nil {
		socks = slices.DeleteFunc(socks, func(s *Socket) bool { return s == except })
	}
	runtime.AfterCommit(ctx, func() { sockets.Broadcast(socks, binary, data) })
	return len(socks)
}

// SetAutoResponse sets the text message the hub answers for the object by
// itself, without waking it; an empty request removes it.
func (a *Activation) SetAutoResponse(request, response string) {
	a.n.hub.SetAutoResponse(a.key(), sockets.AutoResponse{Request: request, Response: response})
}

func (a *Activation) key() sockets.Key { return sockets.Key{Class: a.Class(), ID: a.ID()} }

// AfterCommit runs fn once the writes of the event that ctx belongs to are
// durable, never if they fail; outside an event, at once.
func AfterCommit(ctx context.Context, fn func()) { runtime.AfterCommit(ctx, fn) }
