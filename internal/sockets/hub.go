package sockets

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost/internal/ids"
)

// Key names an object.
type Key struct {
	Class string
	ID    ids.ID
}

// Hub holds the sockets of all objects. It is safe for concurrent use.
type Hub struct {
	cfg      Config
	upgrader websocket.Upgrader
	nextID   atomic.Uint64

	slowClosed     atomic.Uint64 // sockets closed for falling behind
	overloadClosed atomic.Uint64 // sockets closed because the hub's queues were full
	throttled      atomic.Uint64 // messages whose reading waited for receivers
	queued         atomic.Int64  // bytes in the send queues, each frame once (see memory.go)
	evicting       sync.Mutex    // one eviction at a time
	warnings       warnings

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
	// stall is the throttle's budget for the object's senders.
	stall stall
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
	// OverloadClosed counts the sockets closed because the hub's send
	// queues were full (1013).
	OverloadClosed uint64
	// Throttled counts the messages whose sockets' next read waited for
	// the receivers of their object to catch up.
	Throttled uint64
	// QueuedBytes is the bytes the send queues hold now, a broadcast's
	// message once; at most Config.QueuedBytesTotal.
	QueuedBytes int64
}

// Stats returns the hub's counts.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	open := h.total
	h.mu.Unlock()
	return Stats{Open: open, SlowClosed: h.slowClosed.Load(), OverloadClosed: h.overloadClosed.Load(),
		Throttled: h.throttled.Load(), QueuedBytes: h.queued.Load()}
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
				h.warn("WebSocket write timed out: the client stopped reading", "class", s.key.Class, "socket", s.id)
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
