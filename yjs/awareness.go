package yjs

import (
	"context"
	"strconv"

	"github.com/roost-dev/roost"
)

// peers is a socket's attachment: the awareness entries of the clients on
// it, by client ID in decimal (JSON keys are strings).
type peers map[string]awarenessEntry

// remember keeps the latest of each entry in the socket's attachment, so
// that the document can tell late joiners who is there, even after it
// hibernated. An attachment over its size limit keeps its last state: the
// entries are still relayed.
func (d *Doc) remember(ws *roost.WebSocket, entries map[uint64]awarenessEntry) {
	var p peers
	if _, err := ws.Attachment(&p); err != nil || p == nil {
		p = peers{}
	}
	for id, e := range entries {
		key := strconv.FormatUint(id, 10)
		if old, ok := p[key]; ok && old.Clock > e.Clock {
			continue
		}
		if e.State == "null" {
			delete(p, key)
		} else {
			p[key] = e
		}
	}
	_ = ws.SetAttachment(p)
}

// awareness returns the entries of every socket's clients but skip's.
func (d *Doc) awareness(skip *roost.WebSocket) map[uint64]awarenessEntry {
	out := map[uint64]awarenessEntry{}
	for _, ws := range d.st.WebSockets("") {
		if skip != nil && ws.ID() == skip.ID() {
			continue
		}
		var p peers
		if ok, err := ws.Attachment(&p); !ok || err != nil {
			continue
		}
		for key, e := range p {
			if id, err := strconv.ParseUint(key, 10, 64); err == nil {
				out[id] = e
			}
		}
	}
	return out
}

// left tells the others that the clients of a socket that closed left.
func (d *Doc) left(ctx context.Context, ws *roost.WebSocket) {
	var p peers
	if ok, err := ws.Attachment(&p); !ok || err != nil || len(p) == 0 {
		return
	}
	gone := make(map[uint64]awarenessEntry, len(p))
	for key, e := range p {
		if id, err := strconv.ParseUint(key, 10, 64); err == nil {
			gone[id] = awarenessEntry{Clock: e.Clock + 1, State: "null"}
		}
	}
	d.relay(ctx, ws, awarenessMessage(gone))
}

// WebSocketClose tells the others that the socket's clients left.
func (d *Doc) WebSocketClose(ctx context.Context, ws *roost.WebSocket, _ int, _ string) error {
	d.left(ctx, ws)
	return nil
}

// WebSocketError tells the others that the socket's clients left.
func (d *Doc) WebSocketError(ctx context.Context, ws *roost.WebSocket, _ error) error {
	d.left(ctx, ws)
	return nil
}
