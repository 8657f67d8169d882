package faultproxy_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roost-dev/roost/test/internal/faultproxy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait of these tests for what must happen.
const wait = 10 * time.Second

// server is a TCP server on 127.0.0.1 whose accepted connections go to conns.
type server struct {
	ln    net.Listener
	conns chan net.Conn
}

// listen starts a server; a cleanup closes it and every connection it
// accepted.
func listen(t *testing.T) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, conns: make(chan net.Conn, 16)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(s.conns)
				return
			}
			s.conns <- c
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for c := range s.conns {
			c.Close()
		}
	})
	return s
}

// accept returns the server's next connection.
func (s *server) accept(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-s.conns:
		c.SetDeadline(time.Now().Add(wait))
		return c
	case <-time.After(wait):
		t.Fatal("the server accepted no connection")
		return nil
	}
}

// proxy starts a proxy to s, closed at cleanup.
func proxy(t *testing.T, s *server) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// dial connects to the proxy; the connection closes at cleanup.
func dial(t *testing.T, p *faultproxy.Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), wait)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(wait))
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write %q: %v", s, err)
	}
}

func expect(t *testing.T, c net.Conn, want string) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("read %q (%v), want %q", got, err, want)
	}
}

// closed requires that the peer of c closed or reset it.
func closed(t *testing.T, c net.Conn) {
	t.Helper()
	n, err := io.Copy(io.Discard, c)
	var ne net.Error
	if n > 0 || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("the connection stayed open (%d bytes, %v)", n, err)
	}
}

// refused requires that a new connection through p fails: at connect or
// at once after it (the proxy resets it right after accepting).
func refused(t *testing.T, p *faultproxy.Proxy) {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), wait)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	closed(t, c)
}

func TestProxy_ForwardsBothWaysAndTheOrderlyEnd(t *testing.T) {
	t.Parallel()
	s := listen(t)
	p := proxy(t, s)
	a := dial(t, p)
	b := s.accept(t)
	send(t, a, "ping")
	expect(t, b, "ping")
	send(t, b, "pong")
	expect(t, a, "pong")
	a.(*net.TCPConn).CloseWrite()
	if rest, err := io.ReadAll(b); err != nil || len(rest) != 0 {
		t.Fatalf("B after A's half-close: %q, %v; want EOF", rest, err)
	}
	send(t, b, "after") // the other direction still works
	expect(t, a, "after")
}

func TestProxy_CutClosesConnectionsAndRefusesNewOnesUntilHeal(t *testing.T) {
	t.Parallel()
	s := listen(t)
	p := proxy(t, s)
	a := dial(t, p)
	b := s.accept(t)
	send(t, a, "x")
	expect(t, b, "x")
	p.Cut()
	closed(t, a)
	closed(t, b)
	refused(t, p)
	if n := p.Conns(); n != 0 {
		t.Errorf("Conns() = %d after a cut, want 0", n)
	}
	p.Heal()
	a = dial(t, p)
	b = s.accept(t)
	send(t, a, "healed")
	expect(t, b, "healed")
}

func TestProxy_DropAtoBLosesOneDirectionOnly(t *testing.T) {
	t.Parallel()
	s := listen(t)
	p := proxy(t, s)
	a := dial(t, p)
	b := s.accept(t)
	p.DropAtoB(true)
	send(t, a, "lost")
	awaitDropped(t, p, 4, 0)
	send(t, b, "still")
	expect(t, a, "still")
	p.DropAtoB(false)
	send(t, a, "kept")
	expect(t, b, "kept") // "lost" never arrives before it
}

func TestProxy_DropBtoALosesOneDirectionOnly(t *testing.T) {
	t.Parallel()
	s := listen(t)
	p := proxy(t, s)
	a := dial(t, p)
	b := s.accept(t)
	p.DropBtoA(true)
	send(t, b, "lost")
	awaitDropped(t, p, 0, 4)
	send(t, a, "still")
	expect(t, b, "still")
	p.Heal()
	send(t, b, "kept")
	expect(t, a, "kept")
}

// awaitDropped polls until the proxy dropped the given bytes.
func awaitDropped(t *testing.T, p *faultproxy.Proxy, aToB, bToA int64) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		x, y := p.Dropped()
		if x == aToB && y == bToA {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Dropped() = %d, %d; want %d, %d", x, y, aToB, bToA)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestProxy_DelayHoldsBytesInOrder(t *testing.T) {
	t.Parallel()
	const d = 100 * time.Millisecond
	s := listen(t)
	p := proxy(t, s)
	a := dial(t, p)
	b := s.accept(t)
	p.Delay(d)
	start := time.Now()
	for _, m := range []string{"one ", "two ", "three\n"} {
		send(t, a, m)
	}
	line, err := bufio.NewReader(b).ReadString('\n')
	if err != nil || line != "one two three\n" {
		t.Fatalf("read %q (%v), want the three writes in order", line, err)
	}
	if took := time.Since(start); took < d {
		t.Errorf("the bytes arrived after %v, before the delay of %v", took, d)
	}
}

func TestProxy_UnreachableTargetResetsTheConnection(t *testing.T) {
	t.Parallel()
	s := listen(t)
	p := proxy(t, s)
	s.ln.Close()
	refused(t, p)
}

func TestProxy_CloseEndsOpenConnections(t *testing.T) {
	t.Parallel()
	s := listen(t)
	p := proxy(t, s)
	a := dial(t, p)
	s.accept(t)
	p.Delay(time.Hour) // a chunk waits in the queue: Close must not wait for it
	send(t, a, "held")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	closed(t, a)
	if err := p.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	if !strings.HasPrefix(p.Addr(), "127.0.0.1:") {
		t.Errorf("Addr() = %q", p.Addr())
	}
}
