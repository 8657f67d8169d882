package objlog

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/store"
)

// BenchmarkLogMemoryPerObject appends one commit record to each of 100,000
// objects' subjects (ROOST_BENCH_OBJECTS sets another count) on an
// embedded JetStream (file storage, fsync always) and reports the memory
// the server holds per object subject (heap in use, after a GC, over the
// state before): the cost of one subject per object.
func BenchmarkLogMemoryPerObject(b *testing.B) {
	objects := 100_000
	if n, err := strconv.Atoi(os.Getenv("ROOST_BENCH_OBJECTS")); err == nil && n > 0 {
		objects = n
	}
	for b.Loop() {
		js := startJetStream(b)
		l, err := Open(b.Context(), Config{JS: js, Replicas: 1, Logger: slog.New(slog.DiscardHandler),
			Lease: func(string, ids.ID) (uint64, bool) { return 1, true }})
		if err != nil {
			b.Fatal(err)
		}
		before := heapInUse()
		page := make([]byte, 4096)
		for i := range objects {
			data, _ := seal(KindCommit, 1, Sum{}, &store.Changes{Pages: []store.Page{{No: 1, Data: page}}, Size: 1})
			if _, err := js.PublishAsync(Subject("counter", ids.FromName("counter", fmt.Sprint(i))), data); err != nil {
				b.Fatal(err)
			}
			if i%2000 == 1999 {
				<-js.PublishAsyncComplete()
			}
		}
		<-js.PublishAsyncComplete()
		after := heapInUse()
		st, _ := l.stream.Info(context.Background())
		b.ReportMetric(float64(after-before)/float64(objects), "heap-B/object")
		b.ReportMetric(float64(st.State.NumSubjects), "subjects")
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
