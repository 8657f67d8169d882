package sockets

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost/internal/errcode"
)

// Close codes Roost sends.
const (
	CloseNormal        = websocket.CloseNormalClosure           // 1000
	CloseGoingAway     = websocket.CloseGoingAway               // 1001: the server is shutting down
	CloseInvalidData   = websocket.CloseInvalidFramePayloadData // 1007: a text message that is not UTF-8
	ClosePolicy        = websocket.ClosePolicyViolation         // 1008: the socket fell behind its send queue
	CloseTooBig        = websocket.CloseMessageTooBig           // 1009
	CloseInternalError = websocket.CloseInternalServerErr       // 1011
	CloseTryAgainLater = websocket.CloseTryAgainLater           // 1013: the hub's send queues are full
)

// Config configures a [Hub]. Zero values mean the defaults.
type Config struct {
	// MaxMessageBytes bounds a received message; a bigger one closes the
	// socket with 1009. Default 1 MiB.
	MaxMessageBytes int64
	// SendQueue bounds the messages waiting to be written to one socket; a
	// socket that falls further behind is closed with 1008 so that it slows
	// no one else. Default 1024.
	SendQueue int
	// SendQueueBytes bounds the bytes waiting to be written to one socket
	// (a message to an empty queue is always taken, however big); a socket
	// that falls further behind is closed with 1008. Default 16 MiB.
	SendQueueBytes int64
	// QueuedBytesTotal bounds the bytes waiting in all the send queues of
	// the hub, a broadcast's message counted once. A message that would go
	// over it closes the sockets with the most bytes queued (1013) until
	// it fits. Default 256 MiB.
	QueuedBytesTotal int64
	// ThrottleWait bounds how long stalled receivers may hold up an
	// object's senders at once (see Hub.throttle); after that, the object's
	// senders may be held up a tenth of the time. Default 2s.
	ThrottleWait time.Duration
	// MaxPerObject and MaxTotal bound the sockets of one object and of the
	// hub. Defaults 32,768 and 100,000.
	MaxPerObject, MaxTotal int
	// MaxAttachment bounds a socket's attachment. Default 16 KiB.
	MaxAttachment int
	// WriteTimeout bounds one write to a client; a client that does not
	// read for that long is dropped (checked every WriteTimeout/4, so it
	// may take up to a quarter longer). Default 10s.
	WriteTimeout time.Duration
	// CheckOrigin decides whether an upgrade request's Origin is allowed;
	// nil allows any.
	CheckOrigin func(r *http.Request) bool
	// Deliver hands a received message (or the close or error of a socket)
	// to its object, and returns once the object handled it. It runs on the
	// socket's reader, so one socket's messages are delivered in order.
	Deliver func(s *Socket, ev Event)
	Logger  *slog.Logger
}

// Defaults of Config.
const (
	DefaultSendQueueBytes   = 16 << 20
	DefaultQueuedBytesTotal = 256 << 20
	DefaultThrottleWait     = 2 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
)

func (c *Config) fill() {
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 1024
	}
	c.SendQueueBytes = orDefault(c.SendQueueBytes, DefaultSendQueueBytes)
	c.QueuedBytesTotal = orDefault(c.QueuedBytesTotal, DefaultQueuedBytesTotal)
	c.ThrottleWait = orDefault(c.ThrottleWait, DefaultThrottleWait)
	c.WriteTimeout = orDefault(c.WriteTimeout, DefaultWriteTimeout)
	if c.MaxPerObject <= 0 {
		c.MaxPerObject = 32768
	}
	if c.MaxTotal <= 0 {
		c.MaxTotal = 100_000
	}
	if c.MaxAttachment <= 0 {
		c.MaxAttachment = 16 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func orDefault[T int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// EventKind says what happened on a socket.
type EventKind int

// The events of a socket.
const (
	Message EventKind = iota
	Closed
	Failed
)

// Event is what a socket delivers to its object.
type Event struct {
	Kind EventKind
	// Binary and Data are a message's.
	Binary bool
	Data   []byte
	// Code and Reason are a close's (1005 when the peer sent no code).
	Code   int
	Reason string
	// Err is a failure's.
	Err error
}

// Errors of the hub.
var (
	ErrTooManySockets = &errcode.Error{Code: errcode.LimitExceeded, Message: "too many WebSockets"}
	ErrNotUpgrade     = &errcode.Error{Code: errcode.BadRequest, Message: "not a WebSocket upgrade request"}
	ErrClosing        = &errcode.Error{Code: errcode.ShuttingDown, Message: "the server is closing its WebSockets"}
)

// Causes given to an object for a socket the hub failed (Event.Err).
var (
	errSlow       = errors.New("the socket fell behind its send queue")
	errOverloaded = errors.New("the server's WebSocket send queues are full")
	errNotUTF8    = errors.New("the client sent a text message that is not valid UTF-8")
)
