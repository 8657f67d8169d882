package cluster

import (
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/ids"
)

// A node that lost an object's shard since its commit cannot clear the
// wake that the shard's next owner wrote: that wake is all that makes the
// object's timers fire if the new owner fails too.
func TestClearWake_LeavesTheWakeOfALaterEpoch(t *testing.T) {
	c := startNodes(t, 3)[0]
	id := ids.FromName("c", "order")
	at := time.UnixMilli(time.Now().UnixMilli())
	found := func() (time.Time, bool) {
		t.Helper()
		var got time.Time
		var n int
		if err := c.Wakes(t.Context(), c.shardOf("c", id), func(class string, wid ids.ID, w time.Time) {
			if class == "c" && wid == id {
				got, n = w, n+1
			}
		}); err != nil {
			t.Fatal(err)
		}
		return got, n == 1
	}

	if err := c.SetWake("c", id, at, 7); err != nil {
		t.Fatal(err)
	}
	c.ClearWake("c", id, 6) // the owner at epoch 6, whose commit left no timer
	if got, ok := found(); !ok || !got.Equal(at) {
		t.Fatalf("after a clear from an earlier epoch the wake is %v (found %v), want %v", got, ok, at)
	}
	c.ClearWake("c", id, 7)
	if got, ok := found(); ok {
		t.Fatalf("after a clear from the writer's epoch the wake is still %v", got)
	}

	// An entry of an earlier version holds no epoch: any owner clears it.
	if _, err := c.wakes.Put(t.Context(), c.wakeKey("c", id), []byte("1700000000000")); err != nil {
		t.Fatal(err)
	}
	if got, ok := found(); !ok || got.UnixMilli() != 1700000000000 {
		t.Fatalf("an entry without an epoch reads as %v (found %v)", got, ok)
	}
	c.ClearWake("c", id, 1)
	if _, ok := found(); ok {
		t.Fatal("an entry without an epoch was not cleared")
	}
}
