package hardening

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// soakRoom is the room the soak's WebSocket attacks and its normal
// listener share.
const soakRoom = "/room/soak"

// soakMaxDelay bounds how late a normal room member may get a message while
// deaf sockets stall the room (README: WebSockets, Slow clients).
const soakMaxDelay = 2 * time.Second

// roomResult is what the normal room member saw.
type roomResult struct {
	mu       sync.Mutex // guards the fields below, written by two goroutines
	received int
	worst    time.Duration
	err      error
}

// listenRoom joins the soak's room with a normal member that reads every
// message, and a normal sender that stamps a message every 50 ms with its
// time: the member measures how late the stamped ones arrive, and checks
// that every text message is valid UTF-8. The result is ready once wg is
// done.
func listenRoom(ctx context.Context, t *testing.T, srv *server, wg *sync.WaitGroup) *roomResult {
	t.Helper()
	r := &roomResult{}
	member := wsConn(t, srv, nil)
	sender := wsConn(t, srv, nil)
	context.AfterFunc(ctx, func() { member.Close(); sender.Close() })
	wg.Go(func() {
		for ctx.Err() == nil {
			if err := sender.WriteMessage(websocket.TextMessage, []byte("t:"+strconv.FormatInt(time.Now().UnixNano(), 10))); err != nil {
				r.fail(ctx, fmt.Errorf("normal sender: %w", err))
				return
			}
			sleepCtx(ctx, 50*time.Millisecond)
		}
	})
	wg.Go(func() { discard(sender) })
	wg.Go(func() {
		for {
			kind, msg, err := member.ReadMessage()
			if err != nil {
				r.fail(ctx, fmt.Errorf("normal member: %w", err))
				return
			}
			r.note(kind, msg)
		}
	})
	return r
}

// note records one message the normal member got.
func (r *roomResult) note(kind int, msg []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.received++
	if kind == websocket.TextMessage && !utf8.Valid(msg) {
		r.err = cmpErr(r.err, errors.New("normal member: got a text message that is not UTF-8"))
	}
	if ns, ok := strings.CutPrefix(string(msg), "t:"); ok {
		if at, err := strconv.ParseInt(ns, 10, 64); err == nil {
			r.worst = max(r.worst, time.Since(time.Unix(0, at)))
		}
	}
	if r.worst > soakMaxDelay {
		r.err = cmpErr(r.err, fmt.Errorf("normal member: a message arrived %v late, over %v", r.worst, soakMaxDelay))
	}
}

// fail records err unless ctx ended (the test closed the connection).
func (r *roomResult) fail(ctx context.Context, err error) {
	if ctx.Err() == nil {
		r.mu.Lock()
		r.err = cmpErr(r.err, err)
		r.mu.Unlock()
	}
}

// cmpErr keeps the first error.
func cmpErr(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

// wsConn opens a socket to the soak's room with an optional dialer.
func wsConn(t testing.TB, srv *server, d *websocket.Dialer) *websocket.Conn {
	t.Helper()
	if d == nil {
		d = websocket.DefaultDialer
	}
	c, _, err := d.Dial("ws://"+srv.addr+soakRoom, nil)
	if err != nil {
		t.Fatalf("dial the soak's room: %v", err)
	}
	return c
}

// discard reads and drops c's messages until it fails.
func discard(c *websocket.Conn) {
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

// deafDialer opens sockets with a 4 KiB receive buffer, so that a client
// that never reads stalls its socket's writes soon.
var deafDialer = &websocket.Dialer{NetDialContext: (&net.Dialer{
	Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return cmpErr(err, serr)
	},
}).DialContext, HandshakeTimeout: answerWait}

// deafSocket joins the room, never reads, and leaves after 5 s: waves of
// clients that stall the room's writes.
func deafSocket(ctx context.Context, addr string) {
	c, _, err := deafDialer.DialContext(ctx, "ws://"+addr+soakRoom, nil)
	if err != nil {
		sleepCtx(ctx, 50*time.Millisecond)
		return
	}
	defer c.Close()
	sleepCtx(ctx, 5*time.Second)
}

// invalidUTF8 sends a text frame that is not UTF-8, written by hand (a
// client library would refuse to), and waits for the server to close the
// socket.
func invalidUTF8(ctx context.Context, addr string) {
	c, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+addr+soakRoom, nil)
	if err != nil {
		sleepCtx(ctx, 50*time.Millisecond)
		return
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	payload := []byte{'h', 'i', 0xff, 0xfe}
	frame := append([]byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...) // FIN text, masked with a zero key
	if _, err := c.NetConn().Write(frame); err != nil {
		return
	}
	discard(c)
	sleepCtx(ctx, 200*time.Millisecond)
}

// bigMessages sends 256 KiB messages to the room, four a second, and reads
// what the room sends back: they pile up in the deaf sockets' queues.
func bigMessages(ctx context.Context, addr string) {
	sendToRoom(ctx, addr, 256<<10, 250*time.Millisecond)
}

// smallFlood sends 100-byte messages to the room, 150 a second: the deaf
// sockets' queues fill up in message count within their 5 s.
func smallFlood(ctx context.Context, addr string) {
	sendToRoom(ctx, addr, 100, 6667*time.Microsecond)
}

// sendToRoom sends messages of size bytes to the room, one every gap, and
// reads what the room sends back.
func sendToRoom(ctx context.Context, addr string, size int, gap time.Duration) {
	c, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+addr+soakRoom, nil)
	if err != nil {
		sleepCtx(ctx, 50*time.Millisecond)
		return
	}
	var reader sync.WaitGroup
	defer reader.Wait() // last: the reader ends once c is closed
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	reader.Go(func() { discard(c) })
	msg := []byte(strings.Repeat("m", size))
	for ctx.Err() == nil {
		if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
			return
		}
		sleepCtx(ctx, gap)
	}
}
