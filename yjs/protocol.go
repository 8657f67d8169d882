package yjs

import (
	"errors"
	"fmt"

	"github.com/roost-dev/roost/internal/yupdate"
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

// parseMessage decodes a client message. A message of a type it does not
// know has only its kind.
func parseMessage(b []byte) (message, error) {
	r := yupdate.NewReader(b)
	m := message{kind: r.Uint()}
	switch m.kind {
	case msgSync:
		m.syncKind = r.Uint()
		if r.Err() == nil && m.syncKind > syncUpdate {
			return m, fmt.Errorf("%w: sync message type %d", errMalformed, m.syncKind)
		}
		m.payload = r.Bytes()
	case msgAwareness:
		m.payload = r.Bytes()
	}
	if err := r.Err(); err != nil {
		return m, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return m, nil
}

// syncMessage returns a sync message of kind with payload.
func syncMessage(kind uint64, payload []byte) []byte {
	return (&yupdate.Writer{}).Uint(msgSync).Uint(kind).Bytes(payload).Encoded()
}

// awarenessEntry is one client's state in an awareness update: its clock,
// and its state as JSON ("null" once it left).
type awarenessEntry struct {
	Clock uint64 `json:"c"`
	State string `json:"s"`
}

// parseAwareness decodes an awareness update: per client ID, its entry.
func parseAwareness(b []byte) (map[uint64]awarenessEntry, error) {
	r := yupdate.NewReader(b)
	n := r.Count()
	out := make(map[uint64]awarenessEntry, n)
	for ; n > 0 && r.Err() == nil; n-- {
		id := r.Uint()
		clock := r.Uint()
		state := r.Bytes()
		out[id] = awarenessEntry{clock, string(state)}
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return out, nil
}

// awarenessMessage returns an awareness message with the entries.
func awarenessMessage(entries map[uint64]awarenessEntry) []byte {
	inner := (&yupdate.Writer{}).Uint(uint64(len(entries)))
	for id, e := range entries {
		inner.Uint(id).Uint(e.Clock).String(e.State)
	}
	return (&yupdate.Writer{}).Uint(msgAwareness).Bytes(inner.Encoded()).Encoded()
}
