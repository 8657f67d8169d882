package workflow_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/workflow"
)

// Beyond MaxRunning, new instances wait as queued and start, in order, as
// running ones end.
func TestInstancesBeyondMaxRunningQueue(t *testing.T) {
	app, err := roost.Open(context.Background(), roost.Config{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := workflow.NewWithOptions(app, workflow.Options{MaxRunning: 1})
	t.Cleanup(func() {
		e.Close(context.Background())
		app.Close(context.Background())
	})
	release := make(chan struct{})
	started := make(chan string, 3)
	wf := workflow.Define(e, "slow", func(ctx workflow.Context, _ int) (string, error) {
		return workflow.Step(ctx, "work", func(workflow.StepContext) (string, error) {
			started <- ctx.InstanceID()
			<-release
			return ctx.InstanceID(), nil
		})
	})
	ctx := context.Background()
	var insts []*workflow.Instance
	for i := range 3 {
		inst, _, err := wf.Create(ctx, fmt.Sprintf("q%d", i), 0)
		if err != nil {
			t.Fatal(err)
		}
		insts = append(insts, inst)
	}
	if id := <-started; id != "q0" {
		t.Fatalf("first started: %s", id)
	}
	for _, inst := range insts[1:] {
		if st, err := inst.Status(ctx); err != nil || st.Status != workflow.StatusQueued {
			t.Fatalf("%s while q0 runs: %v, %v", inst.ID(), st.Status, err)
		}
	}
	close(release)
	for i, inst := range insts {
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		st, err := inst.Wait(wctx)
		cancel()
		if err != nil || st.Status != workflow.StatusComplete {
			t.Fatalf("%s: %+v, %v", inst.ID(), st, err)
		}
		if i > 0 {
			if id := <-started; id != inst.ID() {
				t.Fatalf("started %s, want %s (first come, first served)", id, inst.ID())
			}
		}
	}
}
