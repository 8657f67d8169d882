package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// chunkQueue bounds the chunks read but not yet forwarded in one direction:
// a delayed link pushes back on the sender once it is full.
const chunkQueue = 64

// link is one proxied connection: a from the dialer, b to the target.
type link struct {
	a, b net.Conn
	once sync.Once
	done chan struct{} // closed by close
}

// chunk is bytes read from one side, to be written to the other at at.
type chunk struct {
	data []byte
	at   time.Time
}

func newLink(a, b net.Conn) *link { return &link{a: a, b: b, done: make(chan struct{})} }

// close ends both connections with a reset (a fault, not an orderly end).
func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		reset(l.a)
		reset(l.b)
	})
}

// finish ends both connections in order, after both directions ended.
func (l *link) finish() {
	l.once.Do(func() {
		close(l.done)
		l.a.Close()
		l.b.Close()
	})
}

// run forwards both directions until both end, then closes the link.
func (l *link) run(p *Proxy) {
	var wg sync.WaitGroup
	wg.Go(func() { l.pipe(p, l.a, l.b, true) })
	l.pipe(p, l.b, l.a, false)
	wg.Wait()
	l.finish()
}

// pipe forwards src to dst: this goroutine reads, an owned one writes.
func (l *link) pipe(p *Proxy, src, dst net.Conn, towardB bool) {
	chunks := make(chan chunk, chunkQueue)
	var wg sync.WaitGroup
	wg.Go(func() { l.write(dst, chunks) })
	err := l.read(p, src, towardB, chunks)
	close(chunks)
	wg.Wait()
	if !errors.Is(err, io.EOF) {
		l.close()
		return
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite() // pass the orderly end on; the other direction may go on
	}
}

// read reads src into chunks, dropping or stamping each as the faults say,
// and returns the error that ended it.
func (l *link) read(p *Proxy, src net.Conn, towardB bool, chunks chan<- chunk) error {
	for {
		buf := make([]byte, 32<<10)
		n, err := src.Read(buf)
		if n > 0 {
			drop, delay := p.fault(towardB, n)
			if !drop && !l.send(chunks, chunk{data: buf[:n], at: time.Now().Add(delay)}) {
				return net.ErrClosed
			}
		}
		if err != nil {
			return err
		}
	}
}

// send queues c unless the link closes first.
func (l *link) send(chunks chan<- chunk, c chunk) bool {
	select {
	case chunks <- c:
		return true
	case <-l.done:
		return false
	}
}

// write writes each chunk to dst at its time, until chunks is closed. After
// a failure it only drains the queue.
func (l *link) write(dst net.Conn, chunks <-chan chunk) {
	failed := false
	for c := range chunks {
		if failed || !l.wait(c.at) {
			failed = true
			continue
		}
		if _, err := dst.Write(c.data); err != nil {
			failed = true
			l.close()
		}
	}
}

// wait waits until at, or returns false if the link closes first.
func (l *link) wait(at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-l.done:
		return false
	}
}
