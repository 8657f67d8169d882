package sockets

import "time"

// The throttle. A room's receivers may fall behind its senders in a burst;
// rather than closing them, the hub then pushes back on the senders: the
// next message of a sender is not read until the receivers caught up, and
// the sender's TCP window slows the client down (fanout100 lost 14,029
// deliveries before it, none after).
//
// A receiver that does not read would hold the room up for good, so the
// wait is bounded twice (issue 12: waves of stalled clients once held a
// room up for 48 s of a 48 s attack, each receiver getting a wait of its
// own):
//
//   - Per receiver: one still behind after Config.ThrottleWait is a slow
//     consumer, closed (1008). A receiver that reads drains half its queue
//     within that time.
//   - Per object: a receiver is off track when a write to it has been
//     blocked for stallAfter (its client stopped reading), or when, half
//     of ThrottleWait into a wait, it wrote too little to catch up within
//     ThrottleWait (its client reads too slowly); both are timed by the
//     waiting sender's ticks, which a pause of the whole process does not
//     advance (the readers of a starved process are not slow consumers).
//     The time an object's senders wait for an off-track receiver is
//     charged to the object's budget: ThrottleWait, refilled at a tenth of
//     the time passing. Once
//     it is spent, off-track receivers are closed (1008) instead of
//     waited for. Stalled clients therefore hold a room up at most
//     ThrottleWait at once, then a tenth of the time, however many stall
//     at once and however often they come back (a wave of clients that
//     stall right after joining may add stallAfter).
//
// Waiting for receivers on track costs nothing: a room whose receivers
// read keeps its pace, and they are not closed for a moment behind a
// burst while stalled clients spent the budget. Whatever waits, a queue
// over its bounds (messages or bytes) closes its socket (1008).

// refillShare is the share of the time passing that refills an object's
// throttle budget: 10 is a tenth.
const refillShare = 10

// stallTick is how often a waiting sender looks at its receivers'
// progress, and stallAfter how long a write must be blocked for its
// receiver to be off track. A client that reads takes a writeChunk in far
// less time, unless its link is too slow to catch up within ThrottleWait.
const (
	stallTick  = 25 * time.Millisecond
	stallAfter = 250 * time.Millisecond
)

// closeGrace is how long a socket closed for falling behind has to take
// its pending write and its close frame before its connection is closed.
const closeGrace = time.Second

// stall is an object's throttle budget. Hub.mu guards it.
type stall struct {
	spent time.Duration // of Config.ThrottleWait
	at    time.Time     // when spent was last refilled or charged
}

// charge charges the time from from to now (the part not charged yet: the
// object's senders wait together) and reports whether budget is left.
func (st *stall) charge(from, now time.Time, budget time.Duration) bool {
	if from.Before(st.at) {
		from = st.at
	}
	if from.After(now) {
		from = now
	}
	st.spent = max(0, st.spent-from.Sub(st.at)/refillShare) + now.Sub(from)
	st.at = now
	return st.spent < budget
}

// highWater is the send queue length from which a socket pushes back on
// its object's senders; half of SendQueueBytes is the other mark.
func (h *Hub) highWater() int { return max(h.cfg.SendQueue/2, 1) }

// behindLocked reports whether the socket is over the high-water mark.
func (s *Socket) behindLocked() bool {
	return len(s.queue) >= s.hub.highWater() || s.bytes.Load() >= s.hub.cfg.SendQueueBytes/2
}

// caughtUpLocked reports whether the socket is back under the low-water
// mark, half of the high one.
func (s *Socket) caughtUpLocked() bool {
	return len(s.queue) <= s.hub.highWater()/2 && s.bytes.Load() <= s.hub.cfg.SendQueueBytes/4
}

// lagging is a socket a sender waits for.
type lagging struct {
	s       *Socket
	drained <-chan struct{}
	since   time.Time // when it went behind
	written int64     // what it had written when the wait began
	need    int64     // the bytes it must write to catch up

	blocked     int64 // the write in progress (its writeSince) at the last sweep
	blockedTick int   // the tick of the sweep that first saw it
}

// throttle pushes back on the sender of a message to object k: while
// sockets of the object are over the high-water mark, it waits until they
// are back under the low one, within the bounds described at the top of
// this file.
func (h *Hub) throttle(k Key) {
	h.mu.Lock()
	o := h.objects[k]
	behind := o != nil && o.behind > 0
	h.mu.Unlock()
	if !behind {
		return
	}
	var waits []lagging
	for _, s := range h.Sockets(k, "") { // not under h.mu: a socket's lock comes first
		if w, ok := s.lag(); ok {
			waits = append(waits, w)
		}
	}
	if len(waits) == 0 {
		return
	}
	h.throttled.Add(1)
	h.waitFor(k, waits)
}

// waitFor waits until the waits drained, closing slow consumers, and off
// track ones once k's budget is spent.
func (h *Hub) waitFor(k Key, waits []lagging) {
	start := time.Now()
	charged := start // the wait is charged from its start, then from each sweep
	var tick *time.Ticker
	ticks := 0 // the sweeps' clock: a pause of the whole process does not advance it
	for {
		now := time.Now()
		var off bool
		if waits, off = h.sweep(k, waits, ticks, charged, now); len(waits) == 0 {
			break
		}
		if off {
			charged = now
		}
		if tick == nil {
			tick = time.NewTicker(stallTick)
			defer tick.Stop()
		}
		select {
		case <-waits[0].drained:
		case <-tick.C:
			ticks++
		}
	}
}

// sweep drops the waits that drained, closes the slow consumers and, if
// k's budget is spent by the wait since from, the off-track sockets; it
// returns the waits left, and whether some were off track (and the wait
// charged). ticks is the number of stallTicks the wait has seen.
func (h *Hub) sweep(k Key, waits []lagging, ticks int, from, now time.Time) ([]lagging, bool) {
	kept := waits[:0]
	off := false
	for _, w := range waits {
		select {
		case <-w.drained:
			continue
		default:
		}
		if now.Sub(w.since) >= h.cfg.ThrottleWait {
			w.s.closeIfStillBehind(w.drained)
			continue
		}
		off = w.offTrack(ticks, h.cfg.ThrottleWait) || off
		kept = append(kept, w)
	}
	if !off || h.charge(k, from, now) {
		return kept, off
	}
	waits = kept
	kept = waits[:0]
	for _, w := range waits {
		if w.offTrack(ticks, h.cfg.ThrottleWait) {
			w.s.closeIfStillBehind(w.drained)
			continue
		}
		kept = append(kept, w)
	}
	return kept, true
}

// offTrack reports whether the sweeps saw one write to the socket blocked
// for stallAfter, or, from half of wait on, whether it wrote too little
// since the wait began to catch up within wait. Both count the wait's
// ticks, not the time passing: when the whole process stalls (a GC pause,
// a starved machine), its clients' reads stall with it and are not to
// blame.
func (w *lagging) offTrack(ticks int, wait time.Duration) bool {
	if since := w.s.writeSince.Load(); since == 0 || since != w.blocked {
		w.blocked, w.blockedTick = since, ticks
	} else if time.Duration(ticks-w.blockedTick)*stallTick >= stallAfter {
		return true
	}
	elapsed := time.Duration(ticks) * stallTick
	if elapsed < wait/2 {
		return false
	}
	written := w.s.written.Load() - w.written
	return float64(written) < float64(w.need)*elapsed.Seconds()/wait.Seconds()
}

// charge charges k's budget for its senders waiting from from to now, and
// reports whether budget is left.
func (h *Hub) charge(k Key, from, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	o := h.objects[k]
	return o == nil || o.stall.charge(from, now, h.cfg.ThrottleWait)
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

// markBehindLocked notes the socket going over the high-water mark: the
// throttle waits for its drained channel.
func (s *Socket) markBehindLocked() {
	if s.drained == nil && !s.closed && s.behindLocked() {
		s.drained = make(chan struct{})
		s.behindSince = time.Now()
		s.hub.backlogged(s.key, 1)
	}
}

// lag returns what a sender waits for if the socket is behind.
func (s *Socket) lag() (lagging, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drained == nil || s.closed {
		return lagging{}, false
	}
	n, bytes := int64(len(s.queue)), s.bytes.Load()
	low := int64(s.hub.highWater() / 2)
	need := max(bytes-s.hub.cfg.SendQueueBytes/4, bytes*(n-low)/max(n, 1), 0)
	return lagging{s: s, drained: s.drained, since: s.behindSince, written: s.written.Load(), need: need}, true
}

// closeIfStillBehind closes the socket as a slow consumer if it is still
// in the backlog that drained belongs to.
func (s *Socket) closeIfStillBehind(drained <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drained != nil && (<-chan struct{})(s.drained) == drained {
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
