package sockets

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// newRoom returns a started hub whose objects relay every message to all
// their sockets, as the room class does (the message is broadcast while
// it is delivered, then the sender's reader throttles), and the address of
// a server for it (see serveRooms). cfg.Deliver, if set, also sees every
// event.
func newRoom(t *testing.T, cfg Config) (*Hub, string) {
	t.Helper()
	var h *Hub
	also := cfg.Deliver
	cfg.Deliver = func(s *Socket, ev Event) {
		if also != nil {
			also(s, ev)
		}
		if ev.Kind == Message {
			Broadcast(h.Sockets(s.Key(), ""), ev.Binary, ev.Data)
		}
	}
	h = newHub(t, cfg)
	return h, serveRooms(t, h)
}

// serveRooms starts a server on 127.0.0.1 whose connection to path /{name}
// becomes a socket of h's object key(name), and returns its address.
func serveRooms(tb testing.TB, h *Hub) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.Accept(key(strings.TrimPrefix(r.URL.Path, "/")), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		h.Upgrade(s, w, r)
	}))
	tb.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// dialRoom connects a reading client (gorilla/websocket) to room name.
func dialRoom(t *testing.T, addr, name string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialRaw opens a TCP connection to addr, with a receive buffer of rcvbuf
// bytes (0: the system's), and completes the WebSocket handshake for room
// name by hand. The caller writes frames and reads the server's frames
// from the returned reader (or never reads, as a stalled client).
func dialRaw(t testing.TB, addr, name string, rcvbuf int) (net.Conn, *bufio.Reader) {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return errors.Join(err, serr)
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	br, err := handshake(c, addr, "/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return c, br
}

// handshake sends a client's upgrade request for path on c and reads the
// server's answer.
func handshake(c net.Conn, host, path string) (*bufio.Reader, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	_, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if err != nil {
		return nil, fmt.Errorf("write the upgrade request: %w", err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("read the upgrade answer: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("upgrade answered %s", resp.Status)
	}
	return br, nil
}

// readFrame reads one server frame (unmasked, unfragmented, as the hub
// writes them) and returns its opcode and payload.
func readFrame(br *bufio.Reader) (byte, []byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 64<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	payload := make([]byte, n)
	_, err := io.ReadFull(br, payload)
	return hdr[0] & 0x0f, payload, err
}

// readClose reads server frames until a close frame and returns its code
// (1005 if it carries none), or fails the test after 30 s.
func readClose(t *testing.T, c net.Conn, br *bufio.Reader) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		op, payload, err := readFrame(br)
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		if op == opClose {
			if len(payload) < 2 {
				return websocket.CloseNoStatusReceived
			}
			return int(binary.BigEndian.Uint16(payload))
		}
	}
}

// waitOpen waits until the hub holds n sockets, or fails the test after
// a minute.
func waitOpen(t *testing.T, h *Hub, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for h.Count() != n {
		if time.Now().After(deadline) {
			t.Fatalf("the hub holds %d sockets, want %d", h.Count(), n)
		}
		time.Sleep(5 * time.Millisecond) // the hub has no signal for a socket's arrival or removal
	}
}

// memStatus returns the process's current and peak resident memory, as
// /proc/self/status says.
func memStatus(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "VmRSS:") || strings.HasPrefix(line, "VmHWM:") {
			out = append(out, strings.Join(strings.Fields(line), " "))
		}
	}
	return strings.Join(out, ", ")
}
