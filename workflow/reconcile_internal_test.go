package workflow

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/clock"
)

// After an unclean stop, the startup check reads only the instances active
// since the index was last written (less reportLag): with a million
// finished instances, a restart does not read them all.
func TestUncleanStartChecksOnlyRecentInstances(t *testing.T) {
	vc := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e := openEngine(t, roost.Config{Clock: vc})
	wf := Define(e, "old", func(ctx Context, n int) (int, error) {
		return Step(ctx, "s", func(StepContext) (int, error) { return n, nil })
	})
	e.resuming.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	run := func(prefix string, n int) {
		for i := range n {
			inst, _, err := wf.Create(ctx, fmt.Sprint(prefix, i), i)
			if err != nil {
				t.Fatal(err)
			}
			if st, err := inst.Wait(ctx); err != nil || st.Status != StatusComplete {
				t.Fatalf("%+v, %v", st, err)
			}
		}
		if _, err := e.List(ctx, "old", ListOptions{}); err != nil { // writes the reports
			t.Fatal(err)
		}
	}
	run("a", 5)
	vc.Advance(2 * time.Hour)
	run("b", 3)
	checked, err := e.reconcile(wf.def)
	if err != nil {
		t.Fatal(err)
	}
	if checked != 3 {
		t.Fatalf("checked %d instances, want the 3 active since the index was written", checked)
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
