package metrics_test

import (
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/metrics"
)

// BenchmarkEvent measures the per-event cost on the hot path: one Event and
// one Commit, as the runtime records for every event that writes. Run it
// with -cpu 1,2 to see contention on the label lookup.
func BenchmarkEvent(b *testing.B) {
	b.Run("metrics=on", func(b *testing.B) {
		benchEvent(b, metrics.New())
	})
	b.Run("metrics=nil", func(b *testing.B) {
		benchEvent(b, nil)
	})
}

func benchEvent(b *testing.B, m *metrics.Metrics) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Event("counter", "http", "ok")
			m.Commit(300*time.Microsecond, nil)
		}
	})
}
