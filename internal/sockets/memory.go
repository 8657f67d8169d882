package sockets

import (
	"cmp"
	"slices"
	"sync/atomic"
	"time"
)

// The bytes of the send queues. Each socket's queue is bounded in messages
// (Config.SendQueue) and in bytes (Config.SendQueueBytes): a socket over
// either has fallen behind and is closed with 1008. The hub's queues
// together are bounded in bytes (Config.QueuedBytesTotal), counting each
// message once however many sockets queue it, since a broadcast's frame is
// one allocation shared by its sockets: that is the memory they hold
// (issue 12: 1 MiB messages to clients that never read took one room to
// 1 GB of RSS). A message that would go over the total closes the sockets
// with the most bytes queued (1013, try again later) until it fits: those
// hold the memory, and a client that reads keeps its queue short.

// buffer is an encoded message's share of the hub's queued bytes. The
// message counts from its encoding until the call that sends it returns
// and no queue holds it any more; a frame being written is out of its
// queue and no longer counts.
type buffer struct {
	size int64
	refs atomic.Int64 // the queues holding it, plus one for the sending call
}

// newFrame encodes a message and counts it in the hub's queued bytes,
// making room if needed (see evict). It reports false if no room could be
// made; else the caller releases the frame's buffer once it queued it.
func (h *Hub) newFrame(op byte, payload []byte) (frame, bool) {
	data := encodeFrame(op, payload)
	b := &buffer{size: int64(len(data))}
	b.refs.Store(1)
	if !h.reserve(b.size) {
		return frame{}, false
	}
	return frame{data: data, buf: b}, true
}

// acquire counts one more queue holding b.
func acquire(b *buffer) {
	if b != nil {
		b.refs.Add(1)
	}
}

// release counts one queue (or the sending call) less holding b; with the
// last, its bytes leave the hub's count.
func (h *Hub) release(b *buffer) {
	if b != nil && b.refs.Add(-1) == 0 {
		h.queued.Add(-b.size)
	}
}

// reserve counts size more queued bytes, closing the sockets with the most
// queued to make room if the total would go over QueuedBytesTotal. It
// reports false if no room could be made (size is over the total, or the
// frames that sends in progress hold fill it).
func (h *Hub) reserve(size int64) bool {
	for {
		if h.tryReserve(size) {
			return true
		}
		if !h.evict(size) {
			return h.tryReserve(size)
		}
	}
}

func (h *Hub) tryReserve(size int64) bool {
	for {
		cur := h.queued.Load()
		if cur+size > h.cfg.QueuedBytesTotal {
			return false
		}
		if h.queued.CompareAndSwap(cur, cur+size) {
			return true
		}
	}
}

// evict closes the sockets with the most bytes queued, the most first,
// until size more bytes fit under QueuedBytesTotal (a broadcast's message
// leaves the count with the last socket that queued it, so a room's
// stalled sockets all go). It reports whether it closed any. One eviction
// runs at a time: the next one finds the room the first made.
func (h *Hub) evict(size int64) bool {
	h.evicting.Lock()
	defer h.evicting.Unlock()
	type victim struct {
		s     *Socket
		bytes int64
	}
	var victims []victim
	h.mu.Lock()
	for _, o := range h.objects {
		for _, s := range o.socks {
			if n := s.bytes.Load(); n > 0 {
				victims = append(victims, victim{s, n})
			}
		}
	}
	h.mu.Unlock()
	slices.SortFunc(victims, func(a, b victim) int { return cmp.Compare(b.bytes, a.bytes) })
	closed := false
	for _, v := range victims { // not under h.mu: a socket's lock comes first
		if h.queued.Load()+size <= h.cfg.QueuedBytesTotal {
			return true
		}
		if v.s.overload() {
			closed = true
		}
	}
	return closed
}

// overload closes the socket to free the hub's queued bytes (1013); its
// object hears why. It reports whether the socket was open.
func (s *Socket) overload() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.hub.warn("WebSocket closed: the server's send queues are full and it had the most queued",
		"class", s.key.Class, "socket", s.id, "queued_bytes", s.bytes.Load())
	s.hub.overloadClosed.Add(1)
	s.failLocked(errOverloaded, CloseTryAgainLater)
	return true
}

// fellBehindLocked closes a socket that cannot keep up with its messages
// (1008); its object hears why.
func (s *Socket) fellBehindLocked() {
	if s.closed {
		return
	}
	s.hub.warn("WebSocket closed: it fell behind its messages",
		"class", s.key.Class, "socket", s.id, "queued", len(s.queue), "queued_bytes", s.bytes.Load())
	s.hub.slowClosed.Add(1)
	s.failLocked(errSlow, ClosePolicy)
}

// failLocked closes a socket the hub gives up on: its queue goes (the
// client would not read it), the close frame goes next, and the write in
// progress gets closeGrace to end.
func (s *Socket) failLocked(cause error, code int) {
	s.cause = cause
	s.dropQueueLocked(false)
	s.closeLocked(code, cause.Error())
	if s.conn != nil {
		s.conn.NetConn().SetWriteDeadline(time.Now().Add(closeGrace))
	}
}

// dropQueueLocked empties the socket's queue, but for its close frame if
// keepClose is set, and releases the frames' bytes.
func (s *Socket) dropQueueLocked(keepClose bool) {
	kept := s.queue[:0]
	for i, f := range s.queue {
		s.queue[i] = frame{}
		if keepClose && f.close {
			kept = append(kept, f)
			continue
		}
		s.bytes.Add(-int64(len(f.data)))
		s.hub.release(f.buf)
	}
	s.queue = kept
}

// refuse closes socks (1013): the hub had no room for a message to them.
func refuse(socks []*Socket) {
	for _, s := range socks {
		s.mu.Lock()
		if !s.closed {
			s.hub.overloadClosed.Add(1)
			s.failLocked(errOverloaded, CloseTryAgainLater)
		}
		s.mu.Unlock()
	}
}
