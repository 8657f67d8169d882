package workflow

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/roost-dev/roost"
)

// A data directory of the layout before partitions (an object of class
// "wf-<name>" per instance, its keys under "workflow/", its own state in
// other keys, its alarm as its wake) keeps working: at the next start its
// instances move into their partitions with their journals, own state and
// wakes; a finished one reads as it was, a sleeping one wakes at its time,
// one that was running runs on, and the old objects are gone.
func TestOldInstancesMoveIntoPartitions(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := func() (*roost.App, *Engine, *Workflow[int, int]) {
		app, err := roost.Open(ctx, roost.Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		e := New(app)
		wf := Define(e, "moved", func(ctx Context, n int) (int, error) {
			a, err := Step(ctx, "a", func(StepContext) (int, error) { return n + 1, nil })
			if err != nil {
				return 0, err
			}
			if err := Sleep(ctx, "nap", time.Second); err != nil {
				return 0, err
			}
			return Step(ctx, "b", func(sc StepContext) (int, error) {
				note, _, err := sc.Storage().Get(sc, "note")
				return a*10 + len(note), err
			})
		})
		return app, e, wf
	}

	// The old layout, written as the engine before partitions wrote it.
	app, e, wf := open()
	now := time.Now().UTC()
	old := func(id, status string, alarm time.Time, recs ...*record) {
		err := roost.Do(ctx, wf.def.ns.GetByName(id), func(ctx context.Context, o *object) error {
			st := o.st.Storage()
			m := &meta{Workflow: "moved", ID: id, Status: status, Created: now, Updated: now}
			if status == StatusComplete {
				m.Output, m.Finished = json.RawMessage("7"), now
			}
			if err := roost.PutJSON(ctx, st, "workflow/meta", m); err != nil {
				return err
			}
			if err := st.Put(ctx, "workflow/params", []byte("1")); err != nil {
				return err
			}
			if err := st.Put(ctx, "note", []byte("abc")); err != nil {
				return err
			}
			for _, r := range recs {
				if err := roost.PutJSON(ctx, st, seqKey("workflow/step/", r.Seq), r); err != nil {
					return err
				}
			}
			if alarm.IsZero() {
				return nil
			}
			return st.SetAlarm(ctx, alarm)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	a := &record{Seq: 0, Name: "a", Kind: kindStep, State: recDone, Result: json.RawMessage("2"), Attempts: 1, Started: now, Ended: now}
	old("done", StatusComplete, time.Time{}, a,
		&record{Seq: 1, Name: "nap", Kind: kindSleep, State: recDone, Started: now, Ended: now},
		&record{Seq: 2, Name: "b", Kind: kindStep, State: recDone, Result: json.RawMessage("7"), Attempts: 1, Started: now, Ended: now})
	wake := now.Add(2 * time.Second)
	old("sleeper", StatusSleeping, wake, a, &record{Seq: 1, Name: "nap", Kind: kindSleep, State: recSleeping, Started: now, Until: wake})
	old("running", StatusRunning, time.Time{}, a)
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.Close(ctx); err != nil {
		t.Fatal(err)
	}

	app, e, wf = open()
	defer app.Close(context.Background())
	defer e.Close(context.Background())
	for id, want := range map[string]int{"done": 7, "sleeper": 23, "running": 23} {
		st, err := wf.Get(id).Wait(ctx)
		if err != nil || st.Status != StatusComplete {
			t.Fatalf("%s: %+v, %v", id, st, err)
		}
		if out, _ := wf.Output(st); out != want {
			t.Errorf("%s: output %d, want %d", id, out, want)
		}
		if id == "sleeper" && time.Now().Before(wake) {
			t.Errorf("the sleeper completed before its wake time")
		}
	}
	objs, err := app.Admin().List(ctx, roost.ListObjectsOptions{Class: "wf-moved"})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.Objects) != 0 {
		t.Errorf("%d objects of the old layout are left", len(objs.Objects))
	}
	if wf.def.legacy.Load() {
		t.Error("lookups still look for old objects")
	}
	page, err := e.List(ctx, "moved", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range page.Instances {
		ids = append(ids, s.ID)
	}
	if slices.Sort(ids); !slices.Equal(ids, []string{"done", "running", "sleeper"}) {
		t.Errorf("the index lists %q", ids)
	}
}
