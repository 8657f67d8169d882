package workflow

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/clock"
)

// After an unclean stop, the startup check reads only the instances with
// a live mark: those that may run, and those whose end the index may not
// have. With a million finished instances, a restart does not read them
// all.
func TestUncleanStartChecksOnlyLiveInstances(t *testing.T) {
	vc := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e := openEngine(t, roost.Config{Clock: vc})
	wf := Define(e, "old", func(ctx Context, n int) (int, error) {
		if n < 0 {
			if err := Sleep(ctx, "nap", time.Hour); err != nil {
				return 0, err
			}
		}
		return Step(ctx, "s", func(StepContext) (int, error) { return n, nil })
	})
	e.resuming.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 5 {
		inst, _, err := wf.Create(ctx, fmt.Sprint("a", i), i)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := inst.Wait(ctx); err != nil || st.Status != StatusComplete {
			t.Fatalf("%+v, %v", st, err)
		}
	}
	for i := range 3 {
		if _, _, err := wf.Create(ctx, fmt.Sprint("b", i), -1); err != nil {
			t.Fatal(err)
		}
	}
	live := func() int {
		n := 0
		for k := range partitions {
			if err := e.liveIDs(wf.def, k, func(ids []string) { n += len(ids) }); err != nil {
				t.Fatal(err)
			}
		}
		return n
	}
	for live() != 3 { // the index has the ends of the five: their marks go
		if ctx.Err() != nil {
			t.Fatalf("%d live marks, want 3", live())
		}
		if _, err := e.List(ctx, "old", ListOptions{}); err != nil { // writes the reports
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	checked, err := e.reconcile(wf.def)
	if err != nil {
		t.Fatal(err)
	}
	if checked != 3 {
		t.Fatalf("checked %d instances, want the 3 that sleep", checked)
	}
}

// A workflow whose startup check did not succeed keeps its index unmarked
// at Close, so the next start checks its instances again; the others are
// marked clean.
func TestCloseMarksCleanOnlyCheckedIndexes(t *testing.T) {
	e := New(openApp(t, roost.Config{}))
	noop := func(ctx Context, n int) (int, error) { return n, nil }
	Define(e, "checked", noop)
	Define(e, "failed", noop)
	e.resuming.Wait()
	e.mu.Lock()
	e.unchecked["failed"] = true // as a check that failed leaves it
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"checked": true, "failed": false} {
		var clean bool
		err := roost.Do(ctx, e.index.ns.GetByName(name), func(ctx context.Context, o *indexObject) error {
			_, ok, err := o.st.Storage().Get(ctx, cleanKey)
			clean = ok
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if clean != want {
			t.Errorf("index of %q marked clean: %v, want %v", name, clean, want)
		}
	}
}
