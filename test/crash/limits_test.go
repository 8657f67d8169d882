package crash

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/roost-dev/roost/test/internal/proc"
)

// TestLimits_FileDescriptorsBoundedUnderACap runs the server under a hard cap
// of 256 open files (these machines cap a process at 20,000 and the cap
// cannot be raised) and touches far more objects than the cap: evicted
// objects must close their files and the open databases must stay bounded
// (least recently used out first), so no request ever fails.
func TestLimits_FileDescriptorsBoundedUnderACap(t *testing.T) {
	t.Parallel()
	const (
		fdCap   = 256
		objects = 2000
		workers = 16
	)
	s := spec(proc.Roost(t), "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--max-active", "32")
	s.MaxOpenFiles = fdCap
	srv := startServerWith(t, s)
	var next, failed atomic.Int64
	var maxFDs atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for n := next.Add(1); n <= objects; n = next.Add(1) {
				if o := increment(srv, fmt.Sprintf("fd-%d", n)); o.kind != outAcked || o.value != 1 {
					failed.Add(1)
					t.Errorf("increment fd-%d: %+v", n, o)
					return
				}
				if n%50 == 0 {
					maxFDs.Store(max(maxFDs.Load(), int64(openFiles(t, srv.PID()))))
				}
			}
		})
	}
	wg.Wait()
	for _, n := range []int{1, objects / 2, objects} {
		if v := get(t, srv, fmt.Sprintf("fd-%d", n)); v != 1 {
			t.Errorf("counter fd-%d = %d, want 1", n, v)
		}
	}
	srv.term(t)
	t.Logf("objects touched: %d, failed: %d, most open files seen: %d (cap %d)", objects, failed.Load(), maxFDs.Load(), fdCap)
}

// openFiles counts the open file descriptors of a process.
func openFiles(t testing.TB, pid int) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatalf("count open files of %d: %v", pid, err)
	}
	return len(entries)
}
