package sockets

import (
	"encoding/binary"
	"errors"
	"syscall"
)

// WebSocket opcodes (RFC 6455 §5.2) of the frames the hub writes.
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPong   = 0xA
)

// encodeFrame returns a server frame: final, unmasked (servers do not
// mask), with opcode op and payload. The hub writes every frame itself
// (gorilla/websocket reads and upgrades): a broadcast's one encoded frame
// goes to every socket as it is, and a message to one socket is written
// straight from the sending goroutine when its queue is empty (see
// Socket.enqueue).
func encodeFrame(op byte, payload []byte) []byte {
	n := len(payload)
	var b []byte
	switch {
	case n < 126:
		b = make([]byte, 2, 2+n)
		b[1] = byte(n)
	case n <= 0xffff:
		b = make([]byte, 4, 4+n)
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b = make([]byte, 10, 10+n)
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
	b[0] = 0x80 | op
	return append(b, payload...)
}

// writeNow writes as much of b as the socket's send buffer takes without
// waiting, and returns how much that was. An empty buffer's EAGAIN is not
// an error: the rest waits for the socket's writer goroutine.
func writeNow(rc syscall.RawConn, b []byte) (int, error) {
	var n int
	var werr error
	err := rc.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), b)
		return true // never wait for the socket to be writable
	})
	if n < 0 {
		n = 0
	}
	if errors.Is(werr, syscall.EAGAIN) || errors.Is(werr, syscall.EINTR) {
		werr = nil
	}
	if err == nil {
		err = werr
	}
	return n, err
}
