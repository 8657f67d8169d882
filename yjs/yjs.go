// Package yjs serves Yjs documents as Roost objects, one object per
// document, so that unmodified yjs clients with y-websocket's
// WebsocketProvider collaborate through Roost:
//
//	new WebsocketProvider('ws://localhost:8080/yjs', 'my-doc', ydoc)
//
// The class speaks the y-websocket protocol (y-protocols: sync steps 1 and
// 2, updates, awareness) on each document's sockets. Every update that
// brings something new is stored in the object's SQLite database before
// any other client sees it (the output gate), and the stored updates are
// compacted into one in a timer event of their own once enough gathered,
// so the stored size tracks the document's size rather than its edit
// history. Awareness (cursors, who is there) is relayed and never stored:
// each socket's last awareness state rides in its attachment, so a
// document hibernates with its sockets open and a late joiner still hears
// who is there.
//
// Over plain HTTP, GET /{class}/{doc} returns the document as one Yjs
// update (application/octet-stream: Y.applyUpdate it), and POST applies
// the Yjs update in its body, for services that read or write documents.
package yjs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/yupdate"
)

// DefaultCompactAfter is the default of [Options.CompactAfter].
const DefaultCompactAfter = 100

// Close codes the class closes a socket with.
const (
	// CloseUnsupported: a text message (the protocol is binary).
	CloseUnsupported = 1003
	// CloseMalformed: a message or Yjs update that does not decode.
	CloseMalformed = 1007
)

// Headers of a GET of a document.
const (
	// HeaderStoredBytes is the bytes of Yjs updates the document stores.
	HeaderStoredBytes = "Roost-Yjs-Stored-Bytes"
	// HeaderStoredUpdates is the number of updates it stores (1 right
	// after a compaction).
	HeaderStoredUpdates = "Roost-Yjs-Stored-Updates"
)

// Options configure the class.
type Options struct {
	// CompactAfter is how many stored updates a document gathers before
	// they are compacted into one. Default DefaultCompactAfter.
	CompactAfter int
}

// Register registers the Yjs document class on app as class.
func Register(app *roost.App, class string, opts *Options) *roost.Namespace {
	compactAfter := DefaultCompactAfter
	if opts != nil && opts.CompactAfter > 0 {
		compactAfter = opts.CompactAfter
	}
	return roost.Register(app, class, func(st *roost.State) (*Doc, error) {
		return &Doc{st: st, compactAfter: compactAfter}, nil
	})
}

// Doc is one Yjs document. Its fields cache the stored document while the
// object is in memory; the database holds it.
type Doc struct {
	st           *roost.State
	compactAfter int

	loaded bool
	// doc is the merge of the stored updates as of the last merge, and
	// pending the updates stored since.
	doc     []byte
	pending [][]byte
	// sv and deleted are what the stored updates hold: their state vector
	// and delete set.
	sv      map[uint64]uint64
	deleted yupdate.DeleteSet
	// rows and size count the stored updates and their bytes; hasTable
	// tells that the table exists (the first write creates it: reads
	// create no storage).
	rows, size int
	hasTable   bool
	compacting bool // a compaction is scheduled
}

// emptyUpdate is a Yjs update that holds nothing.
var emptyUpdate = []byte{0, 0}

const compactTimer = "compact"

// load reads the stored document, once per instance.
func (d *Doc) load(ctx context.Context) error {
	if d.loaded {
		return nil
	}
	s := d.st.Storage()
	var err error
	if d.hasTable, err = s.HasTable(ctx, "yjs_updates"); err != nil {
		return fmt.Errorf("yjs: %w", err)
	}
	var stored [][]byte
	if d.hasTable {
		rows, err := s.Query(ctx, `SELECT data FROM yjs_updates ORDER BY seq`)
		if err != nil {
			return fmt.Errorf("yjs: read the document: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				return fmt.Errorf("yjs: read the document: %w", err)
			}
			stored = append(stored, b)
			d.size += len(b)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("yjs: read the document: %w", err)
		}
	}
	d.rows = len(stored)
	doc, err := yupdate.Merge(append(stored, emptyUpdate)...)
	if err != nil {
		return fmt.Errorf("yjs: the stored document does not decode: %w", err)
	}
	u, err := yupdate.Decode(doc)
	if err != nil {
		return fmt.Errorf("yjs: the stored document does not decode: %w", err)
	}
	d.doc, d.sv, d.deleted, d.loaded = doc, u.StateVector(), u.Deleted, true
	return nil
}

// state returns the whole document as one update.
func (d *Doc) state(ctx context.Context) ([]byte, error) {
	if err := d.load(ctx); err != nil {
		return nil, err
	}
	if len(d.pending) > 0 {
		doc, err := yupdate.Merge(append(d.pending, d.doc)...)
		if err != nil {
			return nil, fmt.Errorf("yjs: merge the document: %w", err)
		}
		d.doc, d.pending = doc, nil
	}
	return d.doc, nil
}

// errBadUpdate marks an update from a client that does not decode.
type errBadUpdate struct{ err error }

func (e errBadUpdate) Error() string { return "malformed Yjs update: " + e.err.Error() }

// apply stores update if it brings something new, and reports whether it
// did. A compaction is scheduled once enough updates gathered.
func (d *Doc) apply(ctx context.Context, update []byte) (bool, error) {
	u, err := yupdate.Decode(update)
	if err != nil {
		return false, errBadUpdate{err}
	}
	if err := d.load(ctx); err != nil {
		return false, err
	}
	if !u.Beyond(d.sv) && d.deleted.Covers(u.Deleted) {
		return false, nil
	}
	s := d.st.Storage()
	if !d.hasTable {
		if _, err := s.Exec(ctx, `CREATE TABLE IF NOT EXISTS yjs_updates (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)`); err != nil {
			return false, fmt.Errorf("yjs: create the document's table: %w", err)
		}
		d.hasTable = true
	}
	if _, err := s.Exec(ctx, `INSERT INTO yjs_updates (data) VALUES (?)`, update); err != nil {
		return false, fmt.Errorf("yjs: store an update: %w", err)
	}
	d.rows++
	d.size += len(update)
	d.pending = append(d.pending, update)
	u.Advance(d.sv)
	d.deleted.Add(u.Deleted)
	if d.rows >= d.compactAfter && !d.compacting {
		if err := s.Schedule(ctx, compactTimer, d.st.Now(), nil); err != nil {
			return false, fmt.Errorf("yjs: schedule a compaction: %w", err)
		}
		d.compacting = true
	}
	return true, nil
}

// Timer compacts the stored updates into one.
func (d *Doc) Timer(ctx context.Context, fire roost.TimerFire) error {
	if fire.Name != compactTimer {
		return nil
	}
	d.compacting = false
	doc, err := d.state(ctx)
	if err != nil || d.rows <= 1 {
		return err
	}
	s := d.st.Storage()
	if _, err := s.Exec(ctx, `DELETE FROM yjs_updates`); err != nil {
		return fmt.Errorf("yjs: compact: %w", err)
	}
	if _, err := s.Exec(ctx, `INSERT INTO yjs_updates (data) VALUES (?)`, doc); err != nil {
		return fmt.Errorf("yjs: compact: %w", err)
	}
	d.rows, d.size = 1, len(doc)
	return nil
}

// Fetch accepts a y-websocket client (a WebSocket upgrade), returns the
// document (GET) or applies an update (POST).
func (d *Doc) Fetch(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	switch {
	case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		return d.accept(w, r)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		doc, err := d.state(ctx)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set(HeaderStoredBytes, strconv.Itoa(d.size))
		w.Header().Set(HeaderStoredUpdates, strconv.Itoa(d.rows))
		_, err = io.Copy(w, bytes.NewReader(doc))
		return err
	case r.Method == http.MethodPost:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		stored, err := d.apply(ctx, body)
		if bad, ok := err.(errBadUpdate); ok {
			roost.WriteError(w, roost.NewError("bad_request", "The body is not a Yjs update (as Y.encodeStateAsUpdate writes): "+bad.err.Error()))
			return nil
		}
		if err != nil {
			return err
		}
		if stored {
			d.relay(ctx, nil, syncMessage(syncUpdate, body))
		}
		w.Header().Set("Content-Type", "application/json")
		_, err = fmt.Fprintf(w, "{\"stored\":%t}\n", stored)
		return err
	}
	w.Header().Set("Allow", "GET, HEAD, POST")
	roost.WriteError(w, roost.NewError("method_not_allowed",
		"GET the document, POST a Yjs update to it, or connect a y-websocket client"))
	return nil
}

// accept accepts a client's socket and starts the sync: the server's
// state vector (sync step 1), and who else is there.
func (d *Doc) accept(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := d.load(ctx); err != nil {
		return err
	}
	ws, err := d.st.AcceptWebSocket(w, r)
	if err != nil {
		return err
	}
	ws.SendBinary(ctx, syncMessage(syncStep1, yupdate.EncodeStateVector(d.sv)))
	if others := d.awareness(ws); len(others) > 0 {
		ws.SendBinary(ctx, awarenessMessage(others))
	}
	return nil
}

// WebSocketMessage handles a y-websocket message.
func (d *Doc) WebSocketMessage(ctx context.Context, ws *roost.WebSocket, msg roost.WebSocketMessage) error {
	if !msg.Binary {
		ws.Close(ctx, CloseUnsupported, "y-websocket messages are binary")
		return nil
	}
	m, err := parseMessage(msg.Data)
	if err != nil {
		ws.Close(ctx, CloseMalformed, truncate(err.Error()))
		return nil
	}
	switch m.kind {
	case msgSync:
		if m.syncKind == syncStep1 {
			return d.answerStep1(ctx, ws, m.payload)
		}
		stored, err := d.apply(ctx, m.payload)
		if bad, ok := err.(errBadUpdate); ok {
			ws.Close(ctx, CloseMalformed, truncate(bad.Error()))
			return nil
		}
		if err != nil || !stored {
			return err
		}
		d.relay(ctx, ws, syncMessage(syncUpdate, m.payload))
	case msgAwareness:
		entries, err := parseAwareness(m.payload)
		if err != nil {
			ws.Close(ctx, CloseMalformed, "malformed awareness update")
			return nil
		}
		d.remember(ws, entries)
		d.relay(ctx, ws, msg.Data)
	case msgQueryAwareness:
		if all := d.awareness(nil); len(all) > 0 {
			ws.SendBinary(ctx, awarenessMessage(all))
		}
	}
	return nil // msgAuth and unknown types: y-websocket ignores them too
}

// answerStep1 sends the client what its state vector lacks (sync step 2).
func (d *Doc) answerStep1(ctx context.Context, ws *roost.WebSocket, payload []byte) error {
	sv, err := yupdate.DecodeStateVector(payload)
	if err != nil {
		ws.Close(ctx, CloseMalformed, "malformed state vector")
		return nil
	}
	doc, err := d.state(ctx)
	if err != nil {
		return err
	}
	diff, err := yupdate.Diff(doc, sv)
	if err != nil {
		return fmt.Errorf("yjs: diff the document: %w", err)
	}
	ws.SendBinary(ctx, syncMessage(syncStep2, diff))
	return nil
}

// relay sends msg to every socket but from (if not nil).
func (d *Doc) relay(ctx context.Context, from *roost.WebSocket, msg []byte) {
	m := roost.WebSocketMessage{Binary: true, Data: msg}
	if from == nil {
		d.st.Broadcast(ctx, m, "")
		return
	}
	d.st.BroadcastExcept(ctx, m, "", from)
}

// truncate bounds a close reason to the 123 bytes a close frame holds.
func truncate(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}
