package roost_test

import (
	"sync/atomic"
	"testing"

	"github.com/roost-dev/roost"
)

// BenchmarkRPC is in-process calls with the default configuration
// (DurabilityFull). The methods write nothing, and an event that writes
// nothing commits nothing: this is the cost of a call itself, JSON both
// ways included; a call that writes adds a commit (see BenchmarkStub_Fetch).
//
//   - serial: one caller, one object: the latency of a call.
//   - parallel: callers on all Ps, to two objects: the throughput.
//   - object-to-object: a call whose method calls a method of another object
//     (two events); the latency of the inner call is the difference to serial.
func BenchmarkRPC(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		ledgers := registerLedger(newApp(b, roost.Config{}), "ledger")
		stub := ledgers.GetByName("a")
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if r, err := ledgerPing.Call(b.Context(), stub, ping{N: i}); err != nil || r.N != i {
				b.Fatalf("ping %d = %v, %v", i, r, err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		ledgers := registerLedger(newApp(b, roost.Config{}), "ledger")
		stubs := []*roost.Stub{ledgers.GetByName("a"), ledgers.GetByName("b")}
		var callers atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			stub := stubs[callers.Add(1)%2]
			for i := 0; pb.Next(); i++ {
				if r, err := ledgerPing.Call(b.Context(), stub, ping{N: i}); err != nil || r.N != i {
					b.Errorf("ping %d = %v, %v", i, r, err)
					return
				}
			}
		})
	})
	b.Run("object-to-object", func(b *testing.B) {
		ledgers := registerLedger(newApp(b, roost.Config{}), "ledger")
		stub := ledgers.GetByName("a")
		req := hopRequest{Path: []string{"b"}}
		b.ReportAllocs()
		for b.Loop() {
			if n, err := ledgerHop.Call(b.Context(), stub, req); err != nil || n != 1 {
				b.Fatalf("hop a→b = %d, %v", n, err)
			}
		}
	})
}
