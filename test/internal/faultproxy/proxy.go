// Package faultproxy is a TCP proxy on loopback that injects network
// faults between two endpoints: A, the side that dials the proxy, and B, the
// target it forwards to. The cluster harness puts one on every link between
// two roost nodes, so that tests can cut a link, lose the bytes of one
// direction or delay them, and heal it again.
//
// Faults apply at once to the connections open and to those that follow:
//
//   - Cut closes every connection and refuses new ones (they are accepted
//     and reset at once, as a peer behind a dropped link would appear).
//   - DropAtoB and DropBtoA discard the bytes of one direction while the
//     connections stay open, as one-way packet loss does to TCP.
//   - Delay holds every chunk of bytes for a while before forwarding it,
//     in order.
//   - Heal lifts all of them.
//
// Every goroutine belongs to the proxy; Close stops and joins them.
package faultproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Proxy forwards TCP connections from its address to a target, with faults.
type Proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup // the accept loop and every connection's goroutines

	mu       sync.Mutex // guards the fields below
	conns    map[*link]struct{}
	cut      bool
	dropAtoB bool
	dropBtoA bool
	delay    time.Duration
	closed   bool
	dropped  [2]int64 // bytes discarded toward B [0] and toward A [1]
}

// New starts a proxy on a free port of 127.0.0.1 that forwards to target
// (HOST:PORT, a loopback address: the proxy dials from 127.0.0.1). The target need not listen yet: each connection dials it
// when accepted, and a failed dial closes that connection.
func New(target string) (*Proxy, error) {
	return Listen("127.0.0.1:0", target)
}

// Listen starts a proxy on addr that forwards to target.
func Listen(addr, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen %s: %w", addr, err)
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[*link]struct{})}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr returns the address the proxy listens on, HOST:PORT.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Cut closes every open connection and refuses new ones until Heal.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	conns := p.takeConns()
	p.mu.Unlock()
	closeAll(conns)
}

// DropAtoB sets whether bytes from A (the dialer) to B (the target) are
// discarded. Connections stay open; bytes dropped are never delivered.
func (p *Proxy) DropAtoB(on bool) { p.set(func() { p.dropAtoB = on }) }

// DropBtoA sets whether bytes from B (the target) to A (the dialer) are
// discarded.
func (p *Proxy) DropBtoA(on bool) { p.set(func() { p.dropBtoA = on }) }

// Delay holds every chunk read from now on for d before forwarding it, in
// both directions; 0 forwards at once.
func (p *Proxy) Delay(d time.Duration) { p.set(func() { p.delay = d }) }

// Heal lifts every fault: new connections are accepted again (those cut
// stay closed), and no byte is dropped or delayed.
func (p *Proxy) Heal() {
	p.set(func() { p.cut, p.dropAtoB, p.dropBtoA, p.delay = false, false, false, 0 })
}

// Conns returns the number of connections open through the proxy.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops accepting, closes every connection and waits for all the
// proxy's goroutines. It is safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	already := p.closed
	p.closed = true
	conns := p.takeConns()
	p.mu.Unlock()
	var err error
	if !already {
		err = p.ln.Close()
	}
	closeAll(conns)
	p.wg.Wait()
	return err
}

// set changes faults under the lock.
func (p *Proxy) set(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
}

// takeConns empties the set of connections and returns them. Call with mu
// held.
func (p *Proxy) takeConns() []*link {
	conns := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		conns = append(conns, l)
	}
	clear(p.conns)
	return conns
}

func closeAll(conns []*link) {
	for _, l := range conns {
		l.close()
	}
}

// accept serves new connections until the listener closes.
func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue // a transient accept error (EMFILE…); the next may succeed
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

// serve dials the target for an accepted connection and forwards both
// ways until either side ends or a fault closes the link.
func (p *Proxy) serve(a net.Conn) {
	if p.refusing() {
		reset(a)
		return
	}
	b, err := dialer.Dial("tcp", p.target)
	if err != nil {
		reset(a)
		return
	}
	l := newLink(a, b)
	if !p.track(l) {
		l.close()
		return
	}
	l.run(p)
	p.untrack(l)
}

func (p *Proxy) refusing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut || p.closed
}

// track adds l to the open connections unless the proxy was cut or closed
// meanwhile.
func (p *Proxy) track(l *link) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut || p.closed {
		return false
	}
	p.conns[l] = struct{}{}
	return true
}

func (p *Proxy) untrack(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, l)
}

// Dropped returns how many bytes were discarded in each direction since
// the proxy started: tests use it to await a fault's effect.
func (p *Proxy) Dropped() (aToB, bToA int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped[0], p.dropped[1]
}

// fault returns whether n bytes going toward B (or toward A) are dropped,
// counting them if so, and the delay, as they are now.
func (p *Proxy) fault(towardB bool, n int) (drop bool, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	drop, dir := p.dropBtoA, 1
	if towardB {
		drop, dir = p.dropAtoB, 0
	}
	if drop {
		p.dropped[dir] += int64(n)
	}
	return drop, p.delay
}

// dialer dials targets from 127.0.0.1, whatever loopback address they
// listen on: a peer then sees every proxied connection come from there.
var dialer = net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}

// reset closes c with a RST rather than a FIN, as a refused connection.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
