package sockets

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkBroadcast is a busy room: messages broadcast back to back to
// every socket of an object, each followed by the throttle a sender's
// reader runs, and written to real clients over 127.0.0.1 that read them.
// An iteration is one message to every socket; it ends when every client
// has read every message.
func BenchmarkBroadcast(b *testing.B) {
	for _, c := range []struct{ sockets, size int }{{10, 128}, {100, 128}, {1000, 128}, {100, 16 << 10}} {
		b.Run(fmt.Sprintf("sockets=%d/size=%d", c.sockets, c.size), func(b *testing.B) {
			benchBroadcast(b, c.sockets, c.size)
		})
	}
}

// BenchmarkSend is one socket's messages, each written by the sender when
// the socket's queue is empty.
func BenchmarkSend(b *testing.B) {
	h, addr := benchRoom(b)
	got := readAll(b, []*websocket.Conn{benchDial(b, addr)})
	s := h.Sockets(key("bench"), "")[0]
	msg := make([]byte, 128)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	// b.N, not b.Loop: the wait for the client after the loop is timed.
	for range b.N {
		s.Send(true, msg)
	}
	got.wait(b, b.N)
}

func benchBroadcast(b *testing.B, n, size int) {
	h, addr := benchRoom(b)
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = benchDial(b, addr)
	}
	got := readAll(b, conns)
	socks := h.Sockets(key("bench"), "")
	msg := make([]byte, size)
	b.SetBytes(int64(size * n))
	b.ReportAllocs()
	b.ResetTimer()
	// b.N, not b.Loop: the wait for the clients after the loop is timed.
	for range b.N {
		Broadcast(socks, true, msg)
		h.throttle(key("bench"))
	}
	got.wait(b, b.N)
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
}

func benchRoom(b *testing.B) (*Hub, string) {
	h := New(Config{Deliver: func(*Socket, Event) {}})
	h.Start()
	b.Cleanup(func() { h.Close(b.Context()) })
	return h, serveRooms(b, h)
}

func benchDial(b *testing.B, addr string) *websocket.Conn {
	d := websocket.Dialer{ReadBufferSize: 4096, WriteBufferSize: 256}
	c, _, err := d.Dial("ws://"+addr+"/bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// counts is how many messages each of a benchmark's clients read.
type counts struct {
	n  []atomic.Int64
	wg sync.WaitGroup
}

// readAll reads every client's messages until the benchmark ends.
func readAll(b *testing.B, conns []*websocket.Conn) *counts {
	c := &counts{n: make([]atomic.Int64, len(conns))}
	for i, conn := range conns {
		c.wg.Go(func() {
			for {
				_, r, err := conn.NextReader()
				if err != nil {
					return
				}
				io.Copy(io.Discard, r)
				c.n[i].Add(1)
			}
		})
	}
	b.Cleanup(func() {
		for _, conn := range conns {
			conn.NetConn().Close()
		}
		c.wg.Wait()
	})
	return c
}

// wait waits until every client read want messages.
func (c *counts) wait(b *testing.B, want int) {
	deadline := time.Now().Add(time.Minute)
	for i := range c.n {
		for c.n[i].Load() < int64(want) {
			if time.Now().After(deadline) {
				b.Fatalf("client %d read %d of %d messages", i, c.n[i].Load(), want)
			}
			time.Sleep(50 * time.Microsecond) // the clients have no signal: poll their counts
		}
	}
}
