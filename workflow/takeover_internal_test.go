package workflow

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost"
)

// In cluster mode a step runs outside its partition's events, so the
// partition can move to another node during a step, which then runs the
// instance on, and come back before the step ends. The step's outcome must
// then not overwrite what the other node recorded: its run ends, and the
// instance goes on from its journal. Here the other node's run is played
// by an event that records step s1 as another run would, while this run's
// attempt of s1 is in flight.
func TestARunTakenOverLeavesTheOtherRunsRecords(t *testing.T) {
	e := NewWithOptions(openApp(t, roost.Config{}), Options{Retention: -1})
	t.Cleanup(func() { e.Close(context.Background()) })
	e.clustered = true // cluster mode's fence, on one node
	started, release := make(chan struct{}), make(chan struct{})
	var s1Runs, s2Runs atomic.Int32
	wf := Define(e, "takeover", func(ctx Context, _ int) (string, error) {
		a, err := Step(ctx, "s1", func(StepContext) (string, error) {
			if s1Runs.Add(1) == 1 {
				close(started)
				<-release
			}
			return "here", nil
		})
		if err != nil {
			return "", err
		}
		b, err := Step(ctx, "s2", func(StepContext) (string, error) {
			s2Runs.Add(1)
			return "s2", nil
		})
		return a + "+" + b, err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	inst, _, err := wf.Create(ctx, "i", 0)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	h := wf.def.standalone("i")
	err = e.do(ctx, h, func(ctx context.Context, p place) error {
		j := p.journal()
		m, _, err := j.meta(ctx)
		if err != nil {
			return err
		}
		now := e.clock.Now()
		rec := &record{Seq: 0, Name: "s1", Kind: kindStep, State: recDone, Attempts: 1, Started: now, Ended: now, Result: []byte(`"there"`)}
		if err := j.putRecord(ctx, rec); err != nil {
			return err
		}
		m.Runner = "another node's run"
		return j.putMeta(ctx, m)
	})
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	st, err := inst.Wait(ctx)
	if err != nil || st.Status != StatusComplete {
		t.Fatalf("after the takeover: %+v, %v", st, err)
	}
	if got := string(st.Output); got != `"there+s2"` {
		t.Errorf("output %s, want \"there+s2\": the taken-over run's s1 must not replace the other run's", got)
	}
	if n, m := s1Runs.Load(), s2Runs.Load(); n != 1 || m != 1 {
		t.Errorf("s1 ran %d times here and s2 %d times, want 1 and 1 (s1 recorded by the other run is not run again)", n, m)
	}
}
