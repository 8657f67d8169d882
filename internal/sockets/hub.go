package sockets

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
)

// Key names an object.
type Key struct {
	Class string
	ID    ids.ID
}

// Close codes Roost sends.
const (
	CloseNormal        = websocket.CloseNormalClosure     // 1000
	CloseGoingAway     = websocket.CloseGoingAway         // 1001: the server is shutting down
	ClosePolicy        = websocket.ClosePolicyViolation   // 1008: the socket fell behind its send queue
	CloseTooBig        = websocket.CloseMessageTooBig     // 1009
	CloseInternalError = websocket.CloseInternalServerErr // 1011
	CloseTryAgainLater = websocket.CloseTryAgainLater     // 1013
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

func (c *Config) fill() {
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 1 << 20
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 1024
	}
	if c.MaxPerObject <= 0 {
		c.MaxPerObject = 32768
	}
	if c.MaxTotal <= 0 {
		c.MaxTotal = 100_000
	}
	if c.MaxAttachment <= 0 {
		c.MaxAttachment = 16 << 10
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
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

// Hub holds the sockets of all objects. It is safe for concurrent use.
type Hub struct {
	cfg      Config
	upgrader websocket.Upgrader
	nextID   atomic.Uint64

	slowClosed atomic.Uint64 // sockets closed for falling behind
	throttled  atomic.Uint64 // messages whose reading waited for receivers

	mu       sync.Mutex // guards the fields below
	objects  map[Key]*object
	total    int
	draining bool // Drain ran: no new socket
	closing  bool
	// active counts the sockets' readers and writers; drained is closed when
	// it drops to zero while closing.
	active  int
	drained chan struct{}
	cancel  context.CancelFunc // stops the watchdog; set by Start, nil before

	watchdog  sync.WaitGroup // the watchdog's goroutine, from Start
	closeOnce sync.Once
	closeErr  error // the first Close's result
}

// object is what the hub holds for one object.
type object struct {
	socks []*Socket // by ID: IDs grow, so appending keeps the order
	// auto is the object's automatic request/response pair, if any.
	auto *AutoResponse
	// behind counts the sockets over the high-water mark.
	behind int
	// lastBroadcast is when its last broadcast began.
	lastBroadcast time.Time
}

// quietGap is how long a room goes without a broadcast to be quiet: its
// next broadcast is written at once, not queued (see Broadcast).
const quietGap = 20 * time.Millisecond

// quiet reports whether the object k had no broadcast for quietGap, and
// notes one now.
func (h *Hub) quiet(k Key) bool {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.objects[k]
	if o == nil {
		return false
	}
	quiet := now.Sub(o.lastBroadcast) >= quietGap
	o.lastBroadcast = now
	return quiet
}

// New returns a hub; it starts no goroutine. Start starts its watchdog,
// and Close closes its sockets and stops its goroutines.
func New(cfg Config) *Hub {
	cfg.fill()
	h := &Hub{cfg: cfg, objects: map[Key]*object{}}
	h.upgrader = websocket.Upgrader{
		ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{},
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin: func(r *http.Request) bool {
			return cfg.CheckOrigin == nil || cfg.CheckOrigin(r)
		},
	}
	return h
}

// Start starts the watchdog, which fails the writes to clients that stopped
// reading for Config.WriteTimeout (see watch); without it, such a write
// blocks until the client reads or Close gives up on it. The watchdog runs
// until Close. Start does nothing on a hub started or closed already.
func (h *Hub) Start() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil || h.closing {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.watchdog.Go(func() { h.watch(ctx) })
}

// Accept reserves a socket for the object, with tags, before the upgrade:
// it counts against the limits, the object sees it among its sockets, and
// what is sent to it waits for Upgrade (or is dropped by Abort).
func (h *Hub) Accept(k Key, tags []string) (*Socket, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closing || h.draining:
		return nil, ErrClosing
	case h.total >= h.cfg.MaxTotal:
		return nil, fmt.Errorf("%w: the server holds %d, its limit", ErrTooManySockets, h.total)
	}
	o := h.objects[k]
	if o == nil {
		o = &object{}
		h.objects[k] = o
	}
	if len(o.socks) >= h.cfg.MaxPerObject {
		return nil, fmt.Errorf("%w: the object holds %d, its limit", ErrTooManySockets, len(o.socks))
	}
	s := &Socket{hub: h, key: k, id: h.nextID.Add(1), tags: slices.Clone(tags)}
	o.socks = append(o.socks, s)
	h.total++
	return s, nil
}

// Upgrade completes an accepted socket's handshake on the client's
// connection and starts serving it.
func (h *Hub) Upgrade(s *Socket, w http.ResponseWriter, r *http.Request) error {
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		h.remove(s)
		return err // the upgrader answered the client
	}
	conn.SetReadLimit(h.cfg.MaxMessageBytes)
	// The hub writes every frame itself (see encodeFrame): pongs and close
	// echoes too, instead of gorilla's handlers writing beside it.
	conn.SetPingHandler(func(data string) error {
		s.enqueue(frame{data: encodeFrame(opPong, []byte(data))}, true)
		return nil
	})
	conn.SetCloseHandler(func(int, string) error { return nil }) // readFailed echoes the close
	var raw syscall.RawConn
	if sc, ok := conn.NetConn().(syscall.Conn); ok {
		raw, _ = sc.SyscallConn()
	}
	s.mu.Lock()
	s.conn, s.raw = conn, raw
	s.mu.Unlock()
	if !h.spawn(s.read) {
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		s.finish()
		return ErrClosing
	}
	s.kick() // what the accepting event sent, a close included
	return nil
}

// spawn runs fn in a goroutine the hub waits for at Close. After Close
// drained them it starts none and returns false.
func (h *Hub) spawn(fn func()) bool {
	h.mu.Lock()
	if h.closing && h.drained == nil {
		h.mu.Unlock()
		return false
	}
	h.active++
	h.mu.Unlock()
	go func() {
		defer h.exited()
		fn()
	}()
	return true
}

func (h *Hub) exited() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.active--; h.active == 0 && h.drained != nil {
		close(h.drained)
		h.drained = nil
	}
}

// Abort drops an accepted socket whose upgrade will not happen.
func (h *Hub) Abort(s *Socket) { h.remove(s) }

// AutoResponse is a message the hub answers by itself, without waking the
// object: a text message equal to Request gets Response.
type AutoResponse struct{ Request, Response string }

// SetAutoResponse sets the object's automatic response; a zero one removes
// it. It lives as long as the hub, across the object's hibernation.
func (h *Hub) SetAutoResponse(k Key, ar AutoResponse) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.objects[k]
	if ar.Request == "" {
		if o != nil {
			o.auto = nil
		}
		return
	}
	if o == nil {
		o = &object{}
		h.objects[k] = o
	}
	o.auto = &ar
}

func (h *Hub) autoResponse(k Key) (AutoResponse, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if o := h.objects[k]; o != nil && o.auto != nil {
		return *o.auto, true
	}
	return AutoResponse{}, false
}

// Sockets returns the object's sockets, all or those with tag.
func (h *Hub) Sockets(k Key, tag string) []*Socket {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.objects[k]
	if o == nil {
		return nil
	}
	if tag == "" {
		return slices.Clone(o.socks)
	}
	var out []*Socket
	for _, s := range o.socks {
		if slices.Contains(s.tags, tag) {
			out = append(out, s)
		}
	}
	return out
}

// Stats are counts of the hub.
type Stats struct {
	// Open is the number of sockets the hub holds.
	Open int
	// SlowClosed counts the sockets closed for falling behind (1008).
	SlowClosed uint64
	// Throttled counts the messages whose sockets' next read waited for
	// the receivers of their object to catch up.
	Throttled uint64
}

// Stats returns the hub's counts.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	open := h.total
	h.mu.Unlock()
	return Stats{Open: open, SlowClosed: h.slowClosed.Load(), Throttled: h.throttled.Load()}
}

// Count returns the number of sockets the hub holds.
func (h *Hub) Count() int { return h.Stats().Open }

// Drain starts the hub's stop: it closes every socket with 1001 (going
// away) and accepts no new one. The sockets' close events still reach their
// objects; Close waits for them.
func (h *Hub) Drain() {
	h.mu.Lock()
	h.draining = true
	var all []*Socket
	for _, o := range h.objects {
		all = append(all, o.socks...)
	}
	h.mu.Unlock()
	for _, s := range all {
		s.Close(CloseGoingAway, "server shutting down")
	}
}

// Close closes every socket with 1001 (going away) and waits until their
// goroutines and the watchdog ended. If ctx ends first, it closes the
// sockets' connections without their closing handshake, still waits for
// every goroutine, and returns ctx's error. Close works on a hub never
// started, and is safe to call more than once: later calls wait for the
// first and return its result.
func (h *Hub) Close(ctx context.Context) error {
	h.closeOnce.Do(func() { h.closeErr = h.close(ctx) })
	return h.closeErr
}

func (h *Hub) close(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	stopWatchdog := h.cancel
	var all []*Socket
	for _, o := range h.objects {
		all = append(all, o.socks...)
	}
	done := make(chan struct{})
	if h.active == 0 {
		close(done)
	} else {
		h.drained = done
	}
	h.mu.Unlock()
	// The watchdog stops last: meanwhile it still fails the writes to
	// clients that stopped reading, which would hold Close up until ctx.
	defer func() {
		if stopWatchdog != nil {
			stopWatchdog()
		}
		h.watchdog.Wait()
	}()
	for _, s := range all {
		s.Close(CloseGoingAway, "server shutting down")
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, s := range all {
			s.mu.Lock()
			if s.conn != nil {
				s.conn.Close()
			}
			s.mu.Unlock()
		}
		<-done
		return ctx.Err()
	}
}

// watch is the watchdog: it fails the writes that take longer than
// WriteTimeout, whose clients stopped reading. It runs from Start until
// Close.
func (h *Hub) watch(ctx context.Context) {
	tick := time.NewTicker(h.cfg.WriteTimeout / 4)
	defer tick.Stop()
	var stuck []*Socket
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			before := now.Add(-h.cfg.WriteTimeout).UnixNano()
			stuck = stuck[:0]
			h.mu.Lock()
			for _, o := range h.objects {
				for _, s := range o.socks {
					if s.stuck(before) {
						stuck = append(stuck, s)
					}
				}
			}
			h.mu.Unlock()
			for _, s := range stuck { // not under h.mu: a socket's lock comes first
				h.cfg.Logger.Warn("WebSocket write timed out: the client stopped reading", "class", s.key.Class, "socket", s.id)
				s.expireWrite()
			}
		}
	}
}

func (h *Hub) remove(s *Socket) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.objects[s.key]
	if o == nil {
		return
	}
	i, found := slices.BinarySearchFunc(o.socks, s.id, func(e *Socket, id uint64) int { return cmp.Compare(e.id, id) })
	if !found {
		return
	}
	o.socks = slices.Delete(o.socks, i, i+1)
	h.total--
	if len(o.socks) == 0 {
		delete(h.objects, s.key) // its automatic response goes with its last socket
	}
}

// highWater is the send queue length from which a socket pushes back on
// its object's senders.
func (h *Hub) highWater() int { return max(h.cfg.SendQueue/2, 1) }

// throttleWait bounds how long a sender waits for backlogged sockets. A
// socket still backlogged after that wait is a slow consumer: it is closed
// (1008), so that it holds up its room's senders once, briefly, and never
// again.
const throttleWait = 2 * time.Second

// throttle pushes back on the sender of a message: while sockets of the
// object have more than the high-water mark queued (a room's receivers
// behind its senders), the sender's next message is not read. Its TCP
// window then slows the client, instead of receivers being closed for
// falling behind a burst. Receivers that do not catch up within
// throttleWait are closed.
func (h *Hub) throttle(k Key) {
	h.mu.Lock()
	o := h.objects[k]
	behind := o != nil && o.behind > 0
	h.mu.Unlock()
	if !behind {
		return
	}
	type wait struct {
		s       *Socket
		drained <-chan struct{}
	}
	var waits []wait
	for _, s := range h.Sockets(k, "") { // not under h.mu: a socket's lock comes first
		if c := s.backlog(); c != nil {
			waits = append(waits, wait{s, c})
		}
	}
	if len(waits) == 0 {
		return
	}
	h.throttled.Add(1)
	timeout := time.NewTimer(throttleWait)
	defer timeout.Stop()
	for i, w := range waits {
		select {
		case <-w.drained:
			continue
		case <-timeout.C:
		}
		for _, w := range waits[i:] {
			w.s.closeIfStillBehind(w.drained)
		}
		return
	}
}

// backlogged counts a socket of k going over (+1) or back under (-1) the
// high-water mark.
func (h *Hub) backlogged(k Key, d int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if o := h.objects[k]; o != nil {
		o.behind += d
	}
}

// errSlow is the cause given for a socket closed because it fell behind.
var errSlow = errors.New("the socket fell behind its send queue")
