package workflow

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost"
)

// idsIn returns n instance IDs that hash to partition k.
func idsIn(k, n int) []string {
	var ids []string
	for i := 0; len(ids) < n; i++ {
		if id := fmt.Sprint("i", i); partitionOf(id) == k {
			ids = append(ids, id)
		}
	}
	return ids
}

// The step records of many instances of one partition commit together,
// but each instance's event on its own: an event that fails (a record that
// does not fit the database) rolls back that instance's record only, while
// the others of its partition commit theirs; its run goes again later.
func TestPartition_AFailingEventRollsBackOnlyItsInstance(t *testing.T) {
	e := openEngine(t, roost.Config{MaxDatabaseSize: 512 << 10})
	ids := idsIn(partitions-1, 17)
	big := ids[0]
	var bigCalls atomic.Int64
	wf := Define(e, "shared", func(ctx Context, n int) (string, error) {
		out := ""
		for i := range 3 {
			s, err := Step(ctx, fmt.Sprint("s", i), func(StepContext) (string, error) {
				if ctx.InstanceID() == big && i == 0 && bigCalls.Add(1) == 1 {
					return strings.Repeat("x", 600<<10), nil // its record does not fit
				}
				return fmt.Sprint(n+i, ","), nil
			})
			if err != nil {
				return "", err
			}
			out += s
		}
		return out, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for n, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst, _, err := wf.Create(ctx, id, n)
			if err != nil {
				t.Error(err)
				return
			}
			st, err := inst.Wait(ctx)
			if err != nil || st.Status != StatusComplete {
				t.Errorf("%s: %+v, %v", id, st, err)
				return
			}
			if out, _ := wf.Output(st); out != fmt.Sprintf("%d,%d,%d,", n, n+1, n+2) {
				t.Errorf("%s: output %q", id, out)
			}
			if id == big && st.Steps[0].Attempts != 1 {
				t.Errorf("the big step's record shows %d attempts: its first outcome should not have committed", st.Steps[0].Attempts)
			}
		}()
	}
	wg.Wait()
	if bigCalls.Load() != 2 {
		t.Errorf("the big step ran %d times, want 2 (its first record rolled back)", bigCalls.Load())
	}
}

// An attempt's buffered writes are bounded: the write that would pass
// maxBufferedBytes fails with limit_exceeded, and the ones before it stay.
func TestBufferedKV_BoundsAnAttemptsWrites(t *testing.T) {
	kv := &bufferedKV{}
	value := make([]byte, 1<<20)
	n := 0
	var err error
	for ; err == nil && n < 100; n++ {
		err = kv.Put(context.Background(), fmt.Sprint("k", n), value)
	}
	if roost.ErrorCode(err) != "limit_exceeded" || n != maxBufferedBytes>>20 {
		t.Fatalf("write %d failed with %v; want the 16th of 1 MiB to pass the bound", n, err)
	}
	if _, ok := kv.buffered("k0"); !ok || len(kv.writes) != n-1 {
		t.Fatalf("%d writes kept, want the %d before the bound", len(kv.writes), n-1)
	}
}
