package cluster_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

// startWriters runs 12 writers on 24 counters until the returned stop.
func startWriters(t *testing.T, w *writers) (stop func()) {
	for i := range w.counters {
		w.tallies[objName("c", i)] = &tally{}
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() { w.run(ctx, i) })
	}
	return func() { cancel(); wg.Wait() }
}

func newWriters(t *testing.T, n int) *writers {
	return &writers{c: start(t, n), counters: 24, tallies: map[string]*tally{}, lastAck: map[string]time.Time{}, lastErr: map[string]string{}}
}

// A node paused past its lease (SIGSTOP) finds itself fenced when it
// wakes: it acknowledges no write from the state it held, so no two
// acknowledged increments of a counter answer the same value.
func TestCluster_PausedOwnerAcknowledgesNothingAfterItsLease(t *testing.T) {
	w := newWriters(t, 3)
	stop := startWriters(t, w)
	var pauses []time.Duration
	for round := range rounds(2) {
		time.Sleep(time.Second)
		n := w.c.Nodes[round%3]
		paused := time.Now()
		n.Stop(t)
		w.setAvoid(round % 3) // out of the clients' rotation, as it stopped answering
		pauses = append(pauses, waitFailover(t, w, paused))
		time.Sleep(lease)
		n.Cont(t)
		w.setAvoid(-1) // back in: its writes must find it fenced
		time.Sleep(lease)
	}
	stop()
	checkTallies(t, w.c, w.tallies)
	report(t, "failover after SIGSTOP of a node", pauses)
}

// A node cut off from the others (both ways, then one way) acknowledges
// no write from its own state once its lease could have expired: writes
// sent through it during the cut go into the same counters as the other
// writers', whose tallies then show no lost update and no value answered
// twice. (It may still forward a write to the owner of an object it never
// owned, over HTTP, which is fine.) The majority serves every object after
// a lease; after healing, every acknowledged write is there.
func TestCluster_MinorityAcknowledgesNothing(t *testing.T) {
	w := newWriters(t, 3)
	stop := startWriters(t, w)
	for round, cut := range []func(){
		func() { w.c.Isolate(0) },
		func() { w.c.OneWay(0, 1); w.c.OneWay(0, 2) },
	} {
		time.Sleep(time.Second)
		cutAt := time.Now()
		cut()
		n := probeNode(t, w, w.c.Nodes[0].URL, 3*lease)
		waitFailover(t, w, cutAt)
		w.c.Heal()
		t.Logf("round %d: %d writes sent through the cut-off node", round, n)
		time.Sleep(2 * lease)
	}
	stop()
	checkTallies(t, w.c, w.tallies)
}

// probeNode increments the counters through one node for d, recording the
// outcomes in w's tallies, and returns how many writes it sent.
func probeNode(t *testing.T, w *writers, url string, d time.Duration) int {
	c := &http.Client{Timeout: 2 * time.Second}
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); n++ {
		name := objName("c", n%w.counters)
		status, body, err := do(t.Context(), c, http.MethodPost, url+"/ctr/"+name, "")
		w.record(name, status, body, err, false)
		time.Sleep(50 * time.Millisecond)
	}
	return n
}
