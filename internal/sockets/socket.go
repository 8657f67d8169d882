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
	"unicode/utf8"

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

	// bytes is the size of the frames in queue. It changes under mu and
	// is read without it (Hub.evict).
	bytes atomic.Int64
	// written counts the bytes written to the connection: the throttle
	// watches a socket's progress with it.
	written atomic.Int64

	// writeSince is when the write in progress began (Unix ns; 0 when the
	// writer is not in a write). The hub's watchdog fails writes that
	// take longer than Config.WriteTimeout.
	writeSince atomic.Int64
}

// frame is an encoded frame to write (a broadcast's is shared by all its
// sockets, so it is never modified); close marks a close frame, after
// which nothing is written. buf counts a message's bytes in the hub (nil
// for control frames, which the message count of the queue bounds).
type frame struct {
	data  []byte
	buf   *buffer
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
// queue is full is closed with 1008 (1013 if the hub's queues are), and
// sends to a closed socket are dropped (reported by the false result).
func (s *Socket) Send(binary bool, data []byte) bool {
	f, ok := s.hub.newFrame(opcode(binary), data)
	if !ok {
		refuse([]*Socket{s})
		return false
	}
	defer s.hub.release(f.buf)
	return s.enqueue(f, true)
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
	h := socks[0].hub
	f, ok := h.newFrame(opcode(binary), data)
	if !ok {
		refuse(socks)
		return 0
	}
	defer h.release(f.buf)
	if !h.quiet(socks[0].key) {
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
	if s.fullLocked(len(f.data)) {
		s.fellBehindLocked()
		return false
	}
	if inline && !f.close && !s.writing && len(s.queue) == 0 && s.raw != nil && !s.done {
		s.writing = true // the writer's place, for one write
		s.mu.Unlock()
		n, err := writeNow(s.raw, f.data)
		s.written.Add(int64(n))
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
		s.pushLocked(f, true)
		s.kickLocked()
		return true
	}
	s.pushLocked(f, false)
	s.kickLocked()
	return true
}

// fullLocked reports whether a frame of n bytes would go over the queue's
// bounds, in messages or in bytes (an empty queue takes any frame).
func (s *Socket) fullLocked(n int) bool {
	return len(s.queue) >= s.hub.cfg.SendQueue ||
		len(s.queue) > 0 && s.bytes.Load()+int64(n) > s.hub.cfg.SendQueueBytes
}

// pushLocked queues f, at the front if first (the rest of a frame the
// sender wrote in part).
func (s *Socket) pushLocked(f frame, first bool) {
	acquire(f.buf)
	s.bytes.Add(int64(len(f.data)))
	if first {
		s.queue = slices.Insert(s.queue, 0, f)
	} else {
		s.queue = append(s.queue, f)
	}
	s.markBehindLocked()
}

// popLocked takes the first frame of the queue, to be written: it no
// longer counts as queued.
func (s *Socket) popLocked() frame {
	f := s.queue[0]
	s.queue[0] = frame{}
	s.queue = s.queue[1:]
	s.bytes.Add(-int64(len(f.data)))
	s.hub.release(f.buf)
	if s.caughtUpLocked() {
		s.releaseLocked()
	}
	return f
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
		f := s.popLocked()
		conn := s.conn
		s.mu.Unlock()
		err := s.writeFrame(conn, f.data)
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
			s.dropQueueLocked(false)
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

// writeChunk is the most a writer writes at once: a big frame is written in
// parts, so that the throttle sees a reading client make progress.
const writeChunk = 64 << 10

// writeFrame writes b to the connection, in parts of at most writeChunk.
// No deadline per write (arming a timer for each of a broadcast's thousand
// writes costs more than the write): the hub's watchdog fails a write that
// takes longer than WriteTimeout.
func (s *Socket) writeFrame(conn *websocket.Conn, b []byte) error {
	for len(b) > 0 {
		s.writeSince.Store(time.Now().UnixNano())
		n, err := conn.NetConn().Write(b[:min(len(b), writeChunk)])
		s.writeSince.Store(0)
		s.written.Add(int64(n))
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// writeFailedLocked ends a socket whose connection failed a write: nothing
// more can be written, and its object hears why.
func (s *Socket) writeFailedLocked(err error) {
	s.closed = true
	if s.cause == nil {
		s.cause = fmt.Errorf("write to the client: %w", err)
	}
	s.dropQueueLocked(false)
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
			if !utf8.Valid(data) { // RFC 6455 §8.1: fail the connection, relay nothing
				s.Close(CloseInvalidData, "text message not valid UTF-8")
				s.hub.cfg.Deliver(s, Event{Kind: Failed, Err: errNotUTF8})
				return
			}
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
	s.dropQueueLocked(true)
	conn, writing := s.conn, s.writing
	s.mu.Unlock()
	if conn != nil && !writing {
		conn.Close()
	}
	s.hub.remove(s)
}
