package sockets

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roost-dev/roost/internal/errcode"
)

// Socket is one accepted WebSocket.
type Socket struct {
	hub  *Hub
	key  Key
	id   uint64
	tags []string

	mu   sync.Mutex // guards the fields below
	conn *websocket.Conn
	// raw writes to conn's socket without waiting (nil when conn has no
	// file descriptor: then every frame goes through the writer).
	raw        syscall.RawConn
	attachment []byte
	queue      []frame // waiting to be written
	writing    bool    // a writer goroutine drains the queue
	// autoAt is when the hub last answered an automatic response.
	autoAt time.Time
	// drained, while not nil, is closed when the queue falls back under
	// the low-water mark (see Hub.throttle); behindSince is when it was
	// made.
	drained     chan struct{}
	behindSince time.Time
	closed      bool // no more sends; the close frame is queued or sent
	done        bool // the connection is closed and the socket removed
	// cause is why the hub closed the socket itself (it fell behind, a
	// write failed): the object hears of it as the socket's error.
	cause error

	// writeSince is when the write in progress began (Unix ns; 0 when the
	// writer is not in a write). The hub's watchdog fails writes that
	// take longer than Config.WriteTimeout.
	writeSince atomic.Int64
}

// frame is an encoded frame to write (a broadcast's is shared by all its
// sockets, so it is never modified); close marks a close frame, after
// which nothing is written.
type frame struct {
	data  []byte
	close bool
}

// Key returns the socket's object.
func (s *Socket) Key() Key { return s.key }

// ID returns the socket's ID, unique in the hub.
func (s *Socket) ID() string { return strconv.FormatUint(s.id, 10) }

// Tags returns the tags the socket was accepted with.
func (s *Socket) Tags() []string { return slices.Clone(s.tags) }

// AutoResponseTime returns when the hub last answered the socket's
// automatic request (zero: never).
func (s *Socket) AutoResponseTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.autoAt
}

// Attachment returns the socket's attachment (nil if none).
func (s *Socket) Attachment() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attachment)
}

// SetAttachment replaces the socket's attachment: a small value kept with
// the socket while its object is out of memory.
func (s *Socket) SetAttachment(b []byte) error {
	if len(b) > s.hub.cfg.MaxAttachment {
		return &errcode.Error{Code: errcode.LimitExceeded, Message: fmt.Sprintf(
			"WebSocket attachment of %d bytes is over the limit of %d", len(b), s.hub.cfg.MaxAttachment)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attachment = slices.Clone(b)
	return nil
}

// Send queues a message (binary or text). It never blocks: a socket whose
// queue is full is closed with 1008, and sends to a closed socket are
// dropped (reported by the false result).
func (s *Socket) Send(binary bool, data []byte) bool {
	return s.enqueue(frame{data: encodeFrame(opcode(binary), data)}, true)
}

func opcode(binary bool) byte {
	if binary {
		return opBinary
	}
	return opText
}

// Broadcast sends one message to every socket of socks (all of one
// object), encoding it once, and returns how many took it. A closed or full
// socket stops no one else.
//
// In a busy room the broadcast only queues: the sockets' writers write it,
// the object goes on with its next event at once, and a burst of messages
// reaches each client in few, large writes. In a quiet room (no broadcast
// for quietGap) it writes the message itself, spread over one goroutine per
// CPU, to the sockets with nothing queued: the message then reaches them
// without a thousand goroutines woken first.
func Broadcast(socks []*Socket, binary bool, data []byte) int {
	if len(socks) == 0 {
		return 0
	}
	f := frame{data: encodeFrame(opcode(binary), data)}
	if !socks[0].hub.quiet(socks[0].key) {
		return enqueueAll(socks, f, false)
	}
	parts := min(runtime.GOMAXPROCS(0), len(socks)/broadcastShare)
	if parts <= 1 {
		return enqueueAll(socks, f, true)
	}
	var taken atomic.Int64
	var wg sync.WaitGroup
	size := (len(socks) + parts - 1) / parts
	for part := range slices.Chunk(socks[size:], size) {
		wg.Go(func() { taken.Add(int64(enqueueAll(part, f, true))) })
	}
	taken.Add(int64(enqueueAll(socks[:size], f, true)))
	wg.Wait()
	return int(taken.Load())
}

// broadcastShare is the fewest sockets a quiet room's broadcast gives a
// goroutine of its own.
const broadcastShare = 64

func enqueueAll(socks []*Socket, f frame, inline bool) int {
	n := 0
	for _, s := range socks {
		if s.enqueue(f, inline) {
			n++
		}
	}
	return n
}

// enqueue queues a frame for the socket's writer. If inline is set and
// nothing is queued or being written, the frame is written right here
// first, without waiting (a message to one socket then costs no goroutine
// wake-up); what the socket's buffer does not take goes to the writer.
func (s *Socket) enqueue(f frame, inline bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if len(s.queue) >= s.hub.cfg.SendQueue {
		s.fellBehindLocked()
		return false
	}
	if inline && !f.close && !s.writing && len(s.queue) == 0 && s.raw != nil && !s.done {
		s.writing = true // the writer's place, for one write
		s.mu.Unlock()
		n, err := writeNow(s.raw, f.data)
		s.mu.Lock()
		s.writing = false
		if s.done { // the reader ended meanwhile, and left the closing to the writer
			s.conn.Close()
			return true
		}
		if err != nil {
			s.writeFailedLocked(err)
			return true // taken, and lost with the connection
		}
		if n == len(f.data) {
			s.kickLocked() // frames queued meanwhile
			return true
		}
		f.data = f.data[n:]
		s.queue = append([]frame{f}, s.queue...)
		s.kickLocked()
		return true
	}
	s.queue = append(s.queue, f)
	if len(s.queue) == s.hub.highWater() && s.drained == nil {
		s.drained = make(chan struct{})
		s.behindSince = time.Now()
		s.hub.backlogged(s.key, 1)
	}
	s.kickLocked()
	return true
}

// fellBehindLocked closes a socket that cannot keep up with its messages
// (1008); its object hears why.
func (s *Socket) fellBehindLocked() {
	if s.closed {
		return
	}
	s.hub.cfg.Logger.Warn("WebSocket closed: it fell behind its messages", "class", s.key.Class, "socket", s.id, "queued", len(s.queue))
	s.hub.slowClosed.Add(1)
	s.cause = errSlow
	clear(s.queue)
	s.queue = s.queue[:0] // it would not read them: the close goes next
	s.closeLocked(ClosePolicy, errSlow.Error())
}

// backlog returns a channel closed once the socket's queue drains, or nil
// if it is not backlogged.
func (s *Socket) backlog() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drained == nil || s.closed {
		return nil
	}
	return s.drained
}

// closeIfStillBehind closes the socket as a slow consumer if it is still in
// the backlog that drained belongs to, and has been for throttleWait.
func (s *Socket) closeIfStillBehind(drained <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drained != nil && (<-chan struct{})(s.drained) == drained && time.Since(s.behindSince) >= throttleWait {
		s.fellBehindLocked()
	}
}

// releaseLocked wakes the senders waiting for the queue to drain.
func (s *Socket) releaseLocked() {
	if s.drained != nil {
		close(s.drained)
		s.drained = nil
		s.hub.backlogged(s.key, -1)
	}
}

// Close sends a close frame after what is queued, then closes the
// connection.
func (s *Socket) Close(code int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked(code, reason)
}

func (s *Socket) closeLocked(code int, reason string) {
	if s.closed {
		return
	}
	s.closed = true
	s.releaseLocked()
	if len(reason) > 123 {
		reason = reason[:123] // a close frame's payload is at most 125 bytes
	}
	s.queue = append(s.queue, frame{data: encodeFrame(opClose, websocket.FormatCloseMessage(code, reason)), close: true})
	s.kickLocked()
}

func (s *Socket) kick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kickLocked()
}

// kickLocked starts a writer if frames wait and the connection is up. The
// writer ends when the queue is empty: an idle socket has no writer.
func (s *Socket) kickLocked() {
	if s.writing || s.conn == nil || s.done || len(s.queue) == 0 {
		return
	}
	s.writing = s.hub.spawn(s.write)
}

func (s *Socket) write() {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.writing = false
			done, conn := s.done, s.conn
			s.mu.Unlock()
			if done {
				conn.Close() // the reader ended and left that to the writer
			}
			return
		}
		f := s.queue[0]
		s.queue[0] = frame{}
		s.queue = s.queue[1:]
		if len(s.queue) <= s.hub.highWater()/2 {
			s.releaseLocked()
		}
		conn := s.conn
		s.mu.Unlock()
		// No deadline per write (arming a timer for each of a broadcast's
		// thousand writes costs more than the write): the hub's watchdog
		// fails a write that takes longer than WriteTimeout.
		s.writeSince.Store(time.Now().UnixNano())
		_, err := conn.NetConn().Write(f.data)
		s.writeSince.Store(0)
		switch {
		case err != nil:
			s.mu.Lock()
			s.writeFailedLocked(err)
			s.writing = false
			s.mu.Unlock()
			return
		case f.close:
			// Give the peer a moment to answer the close, then drop the
			// connection; the reader ends with it (or ended already).
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			s.mu.Lock()
			s.writing = false
			s.queue = nil
			s.releaseLocked()
			done := s.done
			s.mu.Unlock()
			if done {
				conn.Close()
			}
			return
		}
	}
}

// writeFailedLocked ends a socket whose connection failed a write: nothing
// more can be written, and its object hears why.
func (s *Socket) writeFailedLocked(err error) {
	s.closed = true
	if s.cause == nil {
		s.cause = fmt.Errorf("write to the client: %w", err)
	}
	s.queue = nil
	s.releaseLocked()
	s.conn.Close() // the reader ends with it
}

// stuck reports whether a write has been in progress since before t.
func (s *Socket) stuck(t int64) bool {
	since := s.writeSince.Load()
	return since != 0 && since < t
}

// expireWrite fails the write in progress: its client stopped reading.
func (s *Socket) expireWrite() {
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn != nil {
		conn.NetConn().SetWriteDeadline(time.Now())
	}
}

// read delivers the socket's messages until it closes.
func (s *Socket) read() {
	defer s.finish()
	for {
		typ, data, err := s.conn.ReadMessage()
		if err != nil {
			s.readFailed(err)
			return
		}
		if typ == websocket.TextMessage {
			if ar, ok := s.hub.autoResponse(s.key); ok && string(data) == ar.Request {
				s.mu.Lock()
				s.autoAt = time.Now()
				s.mu.Unlock()
				s.Send(false, []byte(ar.Response))
				continue
			}
		}
		s.hub.cfg.Deliver(s, Event{Kind: Message, Binary: typ == websocket.BinaryMessage, Data: data})
		s.hub.throttle(s.key)
	}
}

// readFailed delivers the end of the socket: a close from the peer, or an
// error (a message over the limit closes with 1009).
func (s *Socket) readFailed(err error) {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		s.Close(ce.Code, "") // echo the close
		s.hub.cfg.Deliver(s, Event{Kind: Closed, Code: ce.Code, Reason: ce.Text})
	case errors.Is(err, websocket.ErrReadLimit):
		s.Close(CloseTooBig, "message too big")
		s.hub.cfg.Deliver(s, Event{Kind: Failed, Err: err})
	default:
		s.mu.Lock()
		closedByUs, cause := s.closed, s.cause
		s.mu.Unlock()
		switch {
		case !closedByUs:
			s.hub.cfg.Deliver(s, Event{Kind: Failed, Err: err})
		case cause != nil:
			s.hub.cfg.Deliver(s, Event{Kind: Failed, Err: cause})
		}
	}
}

// finish closes the connection and forgets the socket.
//
// A close frame still queued (the echo of the peer's close) goes out first:
// the writer then closes the connection.
func (s *Socket) finish() {
	s.mu.Lock()
	s.closed, s.done = true, true
	s.releaseLocked()
	s.queue = slices.DeleteFunc(s.queue, func(f frame) bool { return !f.close })
	conn, writing := s.conn, s.writing
	s.mu.Unlock()
	if conn != nil && !writing {
		conn.Close()
	}
	s.hub.remove(s)
}
