package yjs

import (
	"errors"
	"fmt"
)

// Message types of the y-websocket protocol (y-protocols).
const (
	msgSync           = 0
	msgAwareness      = 1
	msgAuth           = 2
	msgQueryAwareness = 3
)

// Sync message types (y-protocols/sync).
const (
	syncStep1  = 0 // the sender's state vector: answer with what it lacks
	syncStep2  = 1 // an update: what the receiver lacked
	syncUpdate = 2 // an update made since
)

// errMalformed is the error of a message that does not decode.
var errMalformed = errors.New("malformed y-websocket message")

// message is a decoded client message.
type message struct {
	kind     uint64 // msgSync, msgAwareness, …
	syncKind uint64 // for msgSync
	payload  []byte // the state vector, update or awareness update
}

// reader reads lib0's encoding.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uint() uint64 {
	var n uint64
	for shift := 0; ; shift += 7 {
		if len(r.b) == 0 || shift > 49 {
			r.err = errMalformed
			return 0
		}
		c := r.b[0]
		r.b = r.b[1:]
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return n
		}
	}
}

func (r *reader) bytes() []byte {
	n := r.uint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errMalformed
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

// parseMessage decodes a client message. A message of a type it does not
// know has only its kind.
func parseMessage(b []byte) (message, error) {
	r := &reader{b: b}
	m := message{kind: r.uint()}
	switch m.kind {
	case msgSync:
		m.syncKind = r.uint()
		if m.syncKind > syncUpdate {
			return m, fmt.Errorf("%w: sync message type %d", errMalformed, m.syncKind)
		}
		m.payload = r.bytes()
	case msgAwareness:
		m.payload = r.bytes()
	}
	if r.err != nil {
		return m, r.err
	}
	return m, nil
}

// writer writes lib0's encoding.
type writer struct{ b []byte }

func (w *writer) uint(n uint64) *writer {
	for n >= 0x80 {
		w.b = append(w.b, byte(n)|0x80)
		n >>= 7
	}
	w.b = append(w.b, byte(n))
	return w
}

func (w *writer) bytes(b []byte) *writer {
	w.uint(uint64(len(b)))
	w.b = append(w.b, b...)
	return w
}

func (w *writer) string(s string) *writer {
	w.uint(uint64(len(s)))
	w.b = append(w.b, s...)
	return w
}

// syncMessage returns a sync message of kind with payload.
func syncMessage(kind uint64, payload []byte) []byte {
	w := &writer{b: make([]byte, 0, len(payload)+8)}
	return w.uint(msgSync).uint(kind).bytes(payload).b
}

// awarenessEntry is one client's state in an awareness update: its clock,
// and its state as JSON ("null" once it left).
type awarenessEntry struct {
	Clock uint64 `json:"c"`
	State string `json:"s"`
}

// parseAwareness decodes an awareness update: per client ID, its entry.
func parseAwareness(b []byte) (map[uint64]awarenessEntry, error) {
	r := &reader{b: b}
	n := r.uint()
	if n > uint64(len(b)) {
		return nil, errMalformed
	}
	out := make(map[uint64]awarenessEntry, n)
	for ; n > 0 && r.err == nil; n-- {
		id := r.uint()
		clock := r.uint()
		state := r.bytes()
		out[id] = awarenessEntry{clock, string(state)}
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}

// awarenessMessage returns an awareness message with the entries.
func awarenessMessage(entries map[uint64]awarenessEntry) []byte {
	inner := &writer{}
	inner.uint(uint64(len(entries)))
	for id, e := range entries {
		inner.uint(id).uint(e.Clock).string(e.State)
	}
	return (&writer{}).uint(msgAwareness).bytes(inner.b).b
}
