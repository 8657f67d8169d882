package sockets

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// queuedBytes sums the messages waiting in the hub's send queues, each
// shared message once (a broadcast's frame is one allocation for all its
// sockets): the memory the queues hold.
func queuedBytes(h *Hub) int64 {
	var socks []*Socket
	h.mu.Lock()
	for _, o := range h.objects {
		socks = append(socks, o.socks...)
	}
	h.mu.Unlock()
	// One snapshot of every queue: locked one after another, a frame
	// released from one queue and the next one queued in another would
	// both count. The hub never holds two sockets' locks at once.
	for _, s := range socks {
		s.mu.Lock()
	}
	defer func() {
		for _, s := range socks {
			s.mu.Unlock()
		}
	}()
	// A message counts by its buffer, whole: a socket that took part of
	// it in an inline write queues the rest, a slice that starts further
	// into the same allocation (and further than another socket's rest).
	// Counted by where its data starts, such a message counted once per
	// offset: 335 kB too many in one run, a third of the margin under the
	// bound.
	seen := map[*buffer]bool{}
	var n int64
	for _, s := range socks {
		for _, f := range s.queue {
			switch {
			case f.buf == nil: // a control frame, the socket's own
				n += int64(len(f.data))
			case !seen[f.buf]:
				seen[f.buf] = true
				n += f.buf.size
			}
		}
	}
	return n
}

// Large messages to clients that never read, in several rooms at once,
// keep the hub's queued bytes under its total bound (issue 12: 1 MiB
// messages took one room to 1 GB of RSS, four rooms to 2.2 GB). Each
// room's stalled clients would hold 8 MiB, the rooms together 64 MiB.
//
// A room here relays a message to its other sockets, not to its sender:
// a sender that got its room's broadcasts would share their frames with
// the stalled clients and could have the most bytes queued itself when
// the total is reached, and be closed with 1013 by design. The senders
// thus queue nothing, and only the stalled clients may be closed.
func TestQueuedBytesStayUnderTheTotal(t *testing.T) {
	const rooms, stalled, messages, size = 8, 5, 32, 1 << 20
	const perSocket, total = 8 << 20, 24 << 20
	var h *Hub
	var (
		mu      sync.Mutex
		senders = map[*Socket]bool{}
		failed  = map[*Socket]error{} // the sockets the hub closed, and why
	)
	var relayed atomic.Int64
	all := make(chan struct{}) // closed once the rooms relayed every message
	relay := func(s *Socket, ev Event) {
		switch ev.Kind {
		case Message:
			mu.Lock()
			senders[s] = true
			mu.Unlock()
			others := slices.DeleteFunc(h.Sockets(s.Key(), ""), func(o *Socket) bool { return o == s })
			Broadcast(others, ev.Binary, ev.Data)
			if relayed.Add(1) == rooms*messages {
				close(all)
			}
		case Failed:
			mu.Lock()
			failed[s] = ev.Err
			mu.Unlock()
		}
	}
	h = newHub(t, Config{MaxMessageBytes: 2 << 20, SendQueueBytes: perSocket, QueuedBytesTotal: total, Deliver: relay})
	addr := serveRooms(t, h)
	t.Logf("before: %s", memStatus(t))
	var conns []*websocket.Conn
	for i := range rooms {
		name := fmt.Sprint("big", i)
		conns = append(conns, dialRoom(t, addr, name))
		stallClients(t, addr, name, stalled)
	}
	waitOpen(t, h, rooms*(1+stalled))

	stop := make(chan struct{})
	var peak, peakStats int64
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, queuedBytes(h))
			peakStats = max(peakStats, h.Stats().QueuedBytes)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	var send sync.WaitGroup
	for _, c := range conns {
		send.Go(func() {
			msg := make([]byte, size)
			for range messages {
				if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
					t.Errorf("a sender was dropped: %v", err)
					return
				}
			}
		})
	}
	send.Wait()
	// A message is relayed once its room's Deliver returned: the hub reads
	// the sender's next one after that.
	select {
	case <-all:
	case <-time.After(2 * time.Minute):
		t.Errorf("the rooms relayed %d of the %d messages", relayed.Load(), rooms*messages)
	}
	close(stop)
	sampler.Wait()
	st := h.Stats()
	t.Logf("%d rooms of %d stalled clients, %d messages of %d bytes each: queued at most %d bytes (stats: %d); after: %s; stats %+v",
		rooms, stalled, messages, size, peak, peakStats, memStatus(t), st)
	if peak > total || peakStats > total {
		t.Fatalf("the send queues held %d bytes (stats: %d), over the total bound of %d", peak, peakStats, total)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(senders) != rooms {
		t.Fatalf("%d sockets sent messages, want one per room, %d", len(senders), rooms)
	}
	for s := range senders {
		if err, ok := failed[s]; ok {
			t.Errorf("the hub closed a sender, which queued nothing: %v", err)
		}
	}
	// The stalled clients would hold 64 MiB: the total must have closed
	// some of them, else the bound was never reached and the test showed
	// nothing.
	if st.OverloadClosed == 0 {
		t.Errorf("stats %+v: no stalled client was closed for the total", st)
	}
}

// closeSent returns the code of the close frame last in the socket's
// queue (a socket never upgraded keeps its frames), or 0 if none is.
func closeSent(s *Socket) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 || !s.queue[len(s.queue)-1].close {
		return 0
	}
	return int(binary.BigEndian.Uint16(s.queue[len(s.queue)-1].data[2:]))
}

// A socket's queue is bounded in bytes: the send that would go over closes
// it with 1008; an empty queue takes a message of any size.
func TestSendQueueBytesBound(t *testing.T) {
	h := newHub(t, Config{SendQueueBytes: 4096, Deliver: func(*Socket, Event) {}})
	s, _ := h.Accept(key("a"), nil) // never upgraded: nothing drains its queue
	sent := 0
	for range 10 {
		if s.Send(true, make([]byte, 1000)) { // 1,004 bytes framed
			sent++
		}
	}
	if sent != 4 || closeSent(s) != ClosePolicy {
		t.Fatalf("queued %d messages, then close %d; want 4 of 1,004 bytes under 4,096, then 1008", sent, closeSent(s))
	}
	if st := h.Stats(); st.SlowClosed != 1 || st.QueuedBytes != 0 {
		t.Fatalf("stats %+v: want one slow socket and its queue gone", st)
	}
	big, _ := h.Accept(key("b"), nil)
	if !big.Send(true, make([]byte, 8192)) {
		t.Fatal("an empty queue refused a message bigger than its bound")
	}
}

// Over the hub's total of queued bytes, the sockets with the most queued
// are closed with 1013 until a new message fits; a broadcast's message
// counts once, and one bigger than the total is refused (1013).
func TestQueuedBytesTotalClosesTheLongestQueues(t *testing.T) {
	h := newHub(t, Config{QueuedBytesTotal: 10_000, Deliver: func(*Socket, Event) {}})
	big, _ := h.Accept(key("big"), nil) // never upgraded: nothing drains the queues
	mid, _ := h.Accept(key("mid"), nil)
	small, _ := h.Accept(key("small"), nil)
	msg := make([]byte, 1000) // 1,004 bytes framed
	for range 6 {
		big.Send(true, msg)
	}
	for range 3 {
		mid.Send(true, msg)
	}
	if got := h.Stats().QueuedBytes; got != 9*1004 {
		t.Fatalf("queued %d bytes, want %d", got, 9*1004)
	}
	if !small.Send(true, msg) || closeSent(big) != CloseTryAgainLater || closeSent(mid) != 0 {
		t.Fatalf("over the total: close %d for the longest queue, %d for the next; want 1013 and none", closeSent(big), closeSent(mid))
	}
	if n := Broadcast([]*Socket{mid, small}, true, make([]byte, 2000)); n != 2 {
		t.Fatalf("a broadcast that fits once reached %d of 2 sockets", n)
	}
	st := h.Stats()
	if want := int64(4*1004 + 2004); st.QueuedBytes != want || st.OverloadClosed != 1 {
		t.Fatalf("stats %+v: want %d bytes queued and one socket closed", st, want)
	}
	if small.Send(true, make([]byte, 20_000)) || closeSent(small) != CloseTryAgainLater {
		t.Fatalf("a message bigger than the total: close %d, want 1013", closeSent(small))
	}
}
