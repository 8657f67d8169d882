package listen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
)

const (
	// maxLingering bounds the refused connections that wait for their client
	// to read the 503 answer; more refusals at once are closed right after
	// the answer is written.
	maxLingering = 32
	// lingerTime is how long a refused connection waits for its client to
	// read the answer: closing a socket with unread input makes the kernel
	// send a reset, which can reach the client before the answer does (the
	// same reason net/http waits before closing).
	lingerTime = 500 * time.Millisecond
	// lingerBytes bounds what is read and dropped from a refused client.
	lingerBytes = 64 << 10
	// answerTimeout bounds writing the 503 answer to a new connection, whose
	// send buffer is empty: it never waits in practice.
	answerTimeout = 100 * time.Millisecond
	// logEvery spaces the warnings about refused connections.
	logEvery = 10 * time.Second
)

// Listener is a TCP listener that bounds its open connections (see the
// package documentation). It is safe for concurrent use.
type Listener struct {
	ln     *net.TCPListener
	max    int64
	log    *slog.Logger
	answer []byte // the whole HTTP answer to a refused connection

	open     atomic.Int64
	refused  atomic.Uint64
	lastLog  atomic.Int64  // Unix nanoseconds of the last warning
	lingerer chan struct{} // a slot per refused connection lingering

	mu     sync.Mutex // guards closed and the Add calls of wg
	closed bool
	wg     sync.WaitGroup // the lingering refused connections
}

// Listen listens on the TCP address addr (host:port; port 0 picks one) and
// bounds its connections by cfg.MaxConns.
func Listen(addr string, cfg Config) (*Listener, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return &Listener{ln: ln.(*net.TCPListener), max: int64(cfg.MaxConns), log: cfg.logger(),
		answer: overloadedAnswer(cfg.MaxConns), lingerer: make(chan struct{}, maxLingering)}, nil
}

// overloadedAnswer is the HTTP/1.1 answer to a connection over the bound,
// in the shape of every Roost error.
func overloadedAnswer(maxConns int) []byte {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{ // cannot fail: strings only
		"code":    errcode.Overloaded,
		"message": fmt.Sprintf("the server is at its limit of %d open connections; retry later", maxConns),
	}})
	body = append(body, '\n')
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"+
		"X-Content-Type-Options: nosniff\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// Accept waits for the next connection within the bound. A connection over
// it is answered 503 and closed, and Accept waits for the next one.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.ln.AcceptTCP()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &conn{TCPConn: c, l: l}, nil
		}
		l.open.Add(-1)
		l.refuse(c)
	}
}

// refuse answers c with 503 and closes it: in a goroutine that lingers for
// the client to read the answer if a slot is free, else at once.
func (l *Listener) refuse(c *net.TCPConn) {
	l.refused.Add(1)
	l.warn()
	select {
	case l.lingerer <- struct{}{}:
		if l.spawn(func() { l.write(c, lingerTime); <-l.lingerer }) {
			return
		}
		<-l.lingerer
	default:
	}
	l.write(c, 0)
}

// spawn runs fn in a goroutine that Close waits for; after Close, it runs
// nothing and returns false.
func (l *Listener) spawn(fn func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.wg.Go(fn)
	return true
}

// write writes the 503 answer to c, ends its side of the stream and closes
// it. Closing a socket with unread input makes the kernel send a reset,
// which can reach the client before the answer: so it first drops what the
// client sent, for at most linger, or, with linger 0, what has arrived.
func (l *Listener) write(c *net.TCPConn, linger time.Duration) {
	defer c.Close()
	now := time.Now() // deadlines on connections are wall-clock times
	c.SetWriteDeadline(now.Add(answerTimeout))
	if _, err := c.Write(l.answer); err != nil {
		return
	}
	c.CloseWrite()
	if linger == 0 {
		dropArrived(c)
		return
	}
	c.SetReadDeadline(now.Add(linger))
	io.Copy(io.Discard, io.LimitReader(c, lingerBytes)) // ends at EOF, the deadline or the limit
}

// dropArrived reads what c has received so far, without waiting, and drops
// it.
func dropArrived(c *net.TCPConn) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	var buf [4096]byte
	rc.Read(func(fd uintptr) bool {
		for range lingerBytes / len(buf) {
			if n, err := syscall.Read(int(fd), buf[:]); n <= 0 || err != nil {
				break
			}
		}
		return true // never wait for more
	})
}

// warn logs that connections are refused, at most once per logEvery.
func (l *Listener) warn() {
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last < int64(logEvery) || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	l.log.LogAttrs(context.Background(), slog.LevelWarn, "refusing connections: the connection limit is reached",
		slog.Int64("max_conns", l.max), slog.Uint64("refused_total", l.refused.Load()))
}

// Close stops listening and waits for the refused connections that linger;
// the open ones are their server's to close.
func (l *Listener) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	err := l.ln.Close()
	l.wg.Wait()
	return err
}

// Addr returns the listener's network address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Open returns the number of client connections open now.
func (l *Listener) Open() int { return int(l.open.Load()) }

// Refused returns the number of connections refused for the bound so far.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

// conn is an accepted connection, counted until its first Close. It embeds
// *net.TCPConn so that what net/http and the socket hub look for on a
// connection (CloseWrite, ReadFrom for sendfile, SyscallConn for writes
// without a goroutine) still works.
type conn struct {
	*net.TCPConn
	l    *Listener
	once sync.Once
}

// Close closes the connection and, the first time, frees its place under
// the bound.
func (c *conn) Close() error {
	err := c.TCPConn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}
