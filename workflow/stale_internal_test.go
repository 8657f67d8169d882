package workflow

import (
	"context"
	"testing"
	"time"

	"github.com/roost-dev/roost"
)

// A run started with a stale view of its instance (another run finished it
// meanwhile: the startup check and a create can both start one) ends at
// its first event, shows the instance as stored and wakes its waiters.
func TestStaleRunShowsTheStoredInstance(t *testing.T) {
	e := openEngine(t, roost.Config{})
	wf := Define(e, "once", func(ctx Context, n int) (int, error) {
		return Step(ctx, "s", func(StepContext) (int, error) { return n, nil })
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	inst, _, err := wf.Create(ctx, "i", 1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := inst.Wait(ctx)
	if err != nil || st.Status != StatusComplete {
		t.Fatalf("%+v, %v", st, err)
	}
	stale := &meta{Workflow: "once", ID: "i", Params: []byte("1"), Status: StatusRunning, Created: st.Created, Updated: st.Created}
	e.startAt(wf.def, wf.def.standalone("i"), stale)
	st, err = inst.Wait(ctx)
	if err != nil || st.Status != StatusComplete || string(st.Output) != "1" {
		t.Fatalf("after a stale run: %+v, %v", st, err)
	}
}
