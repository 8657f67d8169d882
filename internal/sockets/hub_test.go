package sockets

import (
	"context"
	"testing"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
)

func key(name string) Key { return Key{Class: "c", ID: ids.FromName("c", name)} }

// newHub returns a started hub, closed when the test ends.
func newHub(t *testing.T, cfg Config) *Hub {
	h := New(cfg)
	h.Start()
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

func TestAcceptCountsAgainstLimits(t *testing.T) {
	h := newHub(t, Config{MaxPerObject: 2, MaxTotal: 3, Deliver: func(*Socket, Event) {}})
	a1, err := h.Accept(key("a"), []string{"red"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Accept(key("a"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Accept(key("a"), nil); errcode.Of(err) != errcode.LimitExceeded {
		t.Fatalf("third socket of an object: %v, want limit_exceeded", err)
	}
	if _, err := h.Accept(key("b"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Accept(key("c"), nil); errcode.Of(err) != errcode.LimitExceeded {
		t.Fatalf("fourth socket of the hub: %v, want limit_exceeded", err)
	}
	h.Abort(a1) // frees its place
	if _, err := h.Accept(key("c"), nil); err != nil {
		t.Fatalf("after an abort: %v", err)
	}
	if n := h.Count(); n != 3 {
		t.Fatalf("Count = %d, want 3", n)
	}
}

func TestSocketsByTag(t *testing.T) {
	h := newHub(t, Config{Deliver: func(*Socket, Event) {}})
	red, _ := h.Accept(key("a"), []string{"red", "big"})
	blue, _ := h.Accept(key("a"), []string{"blue"})
	h.Accept(key("b"), []string{"red"})
	if got := h.Sockets(key("a"), ""); len(got) != 2 || got[0] != red || got[1] != blue {
		t.Fatalf("all sockets of a: %v", got)
	}
	if got := h.Sockets(key("a"), "red"); len(got) != 1 || got[0] != red {
		t.Fatalf("red sockets of a: %v", got)
	}
	if got := h.Sockets(key("a"), "green"); len(got) != 0 {
		t.Fatalf("green sockets of a: %v", got)
	}
	tags := red.Tags()
	tags[0] = "changed"
	if red.Tags()[0] != "red" {
		t.Fatal("Tags returned the socket's own slice")
	}
}

func TestAttachmentLimit(t *testing.T) {
	h := newHub(t, Config{MaxAttachment: 8, Deliver: func(*Socket, Event) {}})
	s, _ := h.Accept(key("a"), nil)
	if err := s.SetAttachment([]byte("12345678")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAttachment([]byte("123456789")); errcode.Of(err) != errcode.LimitExceeded {
		t.Fatalf("attachment over the limit: %v", err)
	}
	if got := string(s.Attachment()); got != "12345678" {
		t.Fatalf("attachment = %q after a refused one", got)
	}
}

func TestSendsWaitForTheUpgradeAndStopAtClose(t *testing.T) {
	h := newHub(t, Config{SendQueue: 4, Deliver: func(*Socket, Event) {}})
	s, _ := h.Accept(key("a"), nil)
	for i := range 2 {
		if !s.Send(false, []byte{byte(i)}) {
			t.Fatalf("send %d before the upgrade was dropped", i)
		}
	}
	s.Close(CloseNormal, "bye")
	if s.Send(false, []byte("late")) {
		t.Fatal("a send after Close was queued")
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Accept(key("b"), nil); errcode.Of(err) != errcode.ShuttingDown {
		t.Fatalf("Accept after Close: %v", err)
	}
}

func TestFullQueueClosesTheSocket(t *testing.T) {
	h := newHub(t, Config{SendQueue: 4, Deliver: func(*Socket, Event) {}})
	s, _ := h.Accept(key("a"), nil) // never upgraded: nothing drains its queue
	sent := 0
	for range 10 {
		if s.Send(true, []byte("x")) {
			sent++
		}
	}
	if sent != 4 {
		t.Fatalf("queued %d messages, want the queue's 4", sent)
	}
	if s.Send(true, []byte("x")) {
		t.Fatal("the socket took messages after it was closed for falling behind")
	}
}
