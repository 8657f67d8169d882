package yjs_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/yupdate"
	"github.com/roost-dev/roost/roosttest"
	"github.com/roost-dev/roost/yjs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorded returns the updates of an editing session recorded with real
// yjs (see internal/yupdate's fixtures) and the state vector they cover.
func recorded(t testing.TB, name string) ([][]byte, map[uint64]uint64) {
	t.Helper()
	b, err := os.ReadFile("../internal/yupdate/testdata/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Updates     []string          `json:"updates"`
		StateVector map[string]uint64 `json:"stateVector"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, u := range s.Updates {
		b, err := base64.StdEncoding.DecodeString(u)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	sv := map[uint64]uint64{}
	for c, clock := range s.StateVector {
		n, _ := strconv.ParseUint(c, 10, 64)
		sv[n] = clock
	}
	return out, sv
}

func newEnv(t testing.TB, opts *yjs.Options) *roosttest.Env {
	t.Helper()
	return roosttest.New(t, func(app *roost.App, _ *roosttest.Env) { yjs.Register(app, "yjs", opts) })
}

// read returns the next binary message on c.
func read(t testing.TB, c *websocket.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(roosttest.WaitTimeout))
	kind, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if kind != websocket.BinaryMessage {
		t.Fatalf("a message of type %d, want binary", kind)
	}
	return b
}

// syncMsg returns a sync message of kind (0: step 1, 1: step 2, 2: update).
func syncMsg(kind byte, payload []byte) []byte {
	b := []byte{0, kind}
	b = appendUint(b, uint64(len(payload)))
	return append(b, payload...)
}

func appendUint(b []byte, n uint64) []byte {
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}

// payload returns a sync message's kind and payload.
func payload(t *testing.T, msg []byte) (byte, []byte) {
	t.Helper()
	if len(msg) < 3 || msg[0] != 0 {
		t.Fatalf("not a sync message: %x", msg)
	}
	n, i := uint64(0), 2
	for shift := 0; ; shift += 7 {
		c := msg[i]
		i++
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	if uint64(len(msg)-i) != n {
		t.Fatalf("payload of %d bytes, the message says %d", len(msg)-i, n)
	}
	return msg[1], msg[i:]
}

func write(t testing.TB, c *websocket.Conn, msg []byte) {
	t.Helper()
	if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		t.Fatal(err)
	}
}

// A client's updates reach the other clients and the document; a client
// that joins with nothing gets everything in its sync step 2.
func TestDoc_SyncsClients(t *testing.T) {
	env := newEnv(t, &yjs.Options{CompactAfter: 1000})
	updates, want := recorded(t, "concurrent")
	a, b := env.DialWS("/yjs/d"), env.DialWS("/yjs/d")
	for _, c := range []*websocket.Conn{a, b} {
		if kind, sv := payload(t, read(t, c)); kind != 0 || !bytes.Equal(sv, []byte{0}) {
			t.Fatalf("the server's first message: sync %d %x, want step 1 with an empty state vector", kind, sv)
		}
	}
	for _, u := range updates {
		write(t, a, syncMsg(2, u))
	}
	// b gets every update that brings something new, in order: all those
	// with insertions; a deletion that others made already goes no further.
	next := 0
	for i, u := range updates {
		if d, err := yupdate.Decode(u); err != nil || len(d.Structs) == 0 {
			continue
		}
		for {
			kind, got := payload(t, read(t, b))
			for next < len(updates) && !bytes.Equal(updates[next], got) {
				next++
			}
			if kind != 2 || next == len(updates) || next > i {
				t.Fatalf("b got sync %d of %d bytes: not one of the updates up to %d in order", kind, len(got), i)
			}
			if next == i {
				break
			}
		}
	}

	// a's sync step 1 is answered after all its updates were applied: its
	// socket's messages are handled in order.
	write(t, a, syncMsg(0, []byte{0}))
	if kind, _ := payload(t, read(t, a)); kind != 1 {
		t.Fatalf("a's sync step 1 was answered with sync %d, want step 2", kind)
	}

	late := env.DialWS("/yjs/d")
	_, sv := payload(t, read(t, late))
	if got, err := yupdate.DecodeStateVector(sv); err != nil || !maps.Equal(got, want) {
		t.Fatalf("the late joiner hears the state vector %v (%v), want %v", got, err, want)
	}
	write(t, late, syncMsg(0, []byte{0}))
	kind, doc := payload(t, read(t, late))
	u, err := yupdate.Decode(doc)
	if kind != 1 || err != nil || !maps.Equal(u.StateVector(), want) {
		t.Fatalf("the late joiner's sync step 2 (sync %d, %v) covers %v, want %v", kind, err, u.StateVector(), want)
	}
	// Sending what the server has changes nothing and goes to no one.
	write(t, late, syncMsg(1, doc))
	status, body := env.HTTP("GET", "/yjs/d", "")
	if status != 200 || body != string(doc) {
		t.Fatalf("GET: %d, %d bytes; want the %d of the document", status, len(body), len(doc))
	}
}

// Updates gathered past CompactAfter are compacted into one in a timer
// event; the document stays the same.
func TestDoc_CompactsStoredUpdates(t *testing.T) {
	env := newEnv(t, &yjs.Options{CompactAfter: 50})
	updates, _ := recorded(t, "typing")
	for _, u := range updates[:49] {
		if status, body := env.HTTP("POST", "/yjs/typed", string(u)); status != 200 || body != "{\"stored\":true}\n" {
			t.Fatalf("POST: %d %s", status, body)
		}
	}
	before := get(t, env, "typed")
	if before.updates != 49 {
		t.Fatalf("%d stored updates before the compaction, want 49", before.updates)
	}
	for _, u := range updates[49:] {
		env.HTTP("POST", "/yjs/typed", string(u))
	}
	env.Advance(time.Millisecond)
	after := get(t, env, "typed")
	want, err := yupdate.Merge(updates...)
	if err != nil {
		t.Fatal(err)
	}
	if after.doc != string(want) {
		t.Fatalf("the document is %d bytes, want the %d of the merge of its updates", len(after.doc), len(want))
	}
	if after.updates > 50 || after.bytes > 2*len(want)+50*64 {
		t.Fatalf("after %d updates the document stores %d updates of %d bytes; it encodes to %d", len(updates), after.updates, after.bytes, len(want))
	}
	env.Restart()
	if again := get(t, env, "typed"); again.doc != after.doc {
		t.Fatal("the document changed across a restart")
	}
}

type stored struct {
	doc            string
	updates, bytes int
}

func get(t *testing.T, env *roosttest.Env, doc string) stored {
	t.Helper()
	resp, err := env.Client().Get(env.URL() + "/yjs/" + doc)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	n, _ := strconv.Atoi(resp.Header.Get(yjs.HeaderStoredUpdates))
	size, _ := strconv.Atoi(resp.Header.Get(yjs.HeaderStoredBytes))
	return stored{buf.String(), n, size}
}

// Bad input closes the socket with a clear code and leaves the document as
// it was.
func TestDoc_RefusesMalformedInput(t *testing.T) {
	env := newEnv(t, nil)
	updates, _ := recorded(t, "typing")
	env.HTTP("POST", "/yjs/kept", string(updates[0]))
	want := get(t, env, "kept").doc
	for name, c := range map[string]struct {
		kind int
		msg  []byte
		code int
	}{
		"text":             {websocket.TextMessage, []byte("hello"), yjs.CloseUnsupported},
		"truncated":        {websocket.BinaryMessage, []byte{0, 2, 9, 1}, yjs.CloseMalformed},
		"bad sync type":    {websocket.BinaryMessage, []byte{0, 7, 0}, yjs.CloseMalformed},
		"bad update":       {websocket.BinaryMessage, syncMsg(2, []byte{1, 1, 5, 0, 0x0b, 1, 0}), yjs.CloseMalformed},
		"bad state vector": {websocket.BinaryMessage, syncMsg(0, []byte{3, 1}), yjs.CloseMalformed},
		"bad awareness":    {websocket.BinaryMessage, []byte{1, 3, 1, 1}, yjs.CloseMalformed},
		"huge count":       {websocket.BinaryMessage, []byte{1, 5, 0xff, 0xff, 0xff, 0xff, 0x0f}, yjs.CloseMalformed},
	} {
		ws := env.DialWS("/yjs/kept")
		read(t, ws) // the server's sync step 1
		if err := ws.WriteMessage(c.kind, c.msg); err != nil {
			t.Fatal(err)
		}
		ws.SetReadDeadline(time.Now().Add(roosttest.WaitTimeout))
		_, _, err := ws.ReadMessage()
		if !websocket.IsCloseError(err, c.code) {
			t.Errorf("%s: %v, want a close with code %d", name, err, c.code)
		}
	}
	if status, _ := env.HTTP("POST", "/yjs/kept", "not an update"); status != 400 {
		t.Errorf("POST of a malformed update: %d, want 400", status)
	}
	if got := get(t, env, "kept").doc; got != want {
		t.Fatal("bad input changed the document")
	}
}

// Awareness goes to the others, a late joiner hears who is there, and the
// others hear when a client's socket closes.
func TestDoc_RelaysAwareness(t *testing.T) {
	env := newEnv(t, nil)
	a := env.DialWS("/yjs/aware")
	read(t, a)
	b := env.DialWS("/yjs/aware")
	read(t, b)
	state := `{"user":{"name":"ada"}}`
	entry := appendUint(appendUint(appendUint([]byte{1}, 77), 3), uint64(len(state)))
	entry = append(entry, state...)
	msg := append(appendUint([]byte{1}, uint64(len(entry))), entry...)
	write(t, a, msg)
	if got := read(t, b); !bytes.Equal(got, msg) {
		t.Fatalf("b got %x, want a's awareness %x", got, msg)
	}
	late := env.DialWS("/yjs/aware")
	read(t, late) // sync step 1
	if got := read(t, late); !bytes.Equal(got, msg) {
		t.Fatalf("the late joiner got %x, want a's awareness %x", got, msg)
	}
	a.Close()
	gone := `null`
	entry = appendUint(appendUint(appendUint([]byte{1}, 77), 4), uint64(len(gone)))
	entry = append(entry, gone...)
	want := append(appendUint([]byte{1}, uint64(len(entry))), entry...)
	if got := read(t, b); !bytes.Equal(got, want) {
		t.Fatalf("after a left b got %x, want %x", got, want)
	}
}
