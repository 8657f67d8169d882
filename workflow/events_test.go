package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/roosttest"
	"github.com/roost-dev/roost/workflow"
)

// partitionEvents is the number of events the partitions of workflow name
// ran, from the app's metrics.
func partitionEvents(t *testing.T, env *roosttest.Env, name string) int {
	t.Helper()
	rec := httptest.NewRecorder()
	env.App().MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	re := regexp.MustCompile(`(?m)^roost_events_total\{[^}]*class="wfp-` + name + `"[^}]*\} (\d+)$`)
	n := 0
	for _, m := range re.FindAllSubmatch(body, -1) {
		v, _ := strconv.Atoi(string(m[1]))
		n += v
	}
	return n
}

// instanceEvents waits until the partitions of workflow name ran at least
// want events of one finished instance since before (the count at its
// creation), and returns how many they ran. The instance's events are
// followed by one more of the engine's: the one that drops its live mark
// once the index has its end (see settle), counted here.
func instanceEvents(t *testing.T, env *roosttest.Env, name string, before, want int) int {
	t.Helper()
	env.WaitUntil(func() bool { return partitionEvents(t, env, name)-before >= want+1 })
	return partitionEvents(t, env, name) - before - 1
}

// listedAs waits until the index lists the instance with status: unlike
// a status read, a listing runs no event of the instance.
func listedAs(t *testing.T, env *roosttest.Env, e *workflow.Engine, name, id, status string) {
	t.Helper()
	env.WaitUntil(func() bool {
		page, err := e.List(context.Background(), name, workflow.ListOptions{Status: status})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Instances {
			if s.ID == id {
				return true
			}
		}
		return false
	})
}

// A step's result is durable before the function sees it: once Step
// returned, the instance's status shows the step done (the snapshot of a
// run shows only what committed), and the function's end commits in an
// event of its own, whether it returns, fails or panics.
func TestAStepIsDurableBeforeTheFunctionSeesIt(t *testing.T) {
	var e *workflow.Engine
	wfs := map[string]*workflow.Workflow[int, int]{}
	seen := map[string]*atomic.Int64{}
	env := newEnv(t, func(eng *workflow.Engine) {
		e = eng
		for _, name := range []string{"returns", "panics", "fails"} {
			seen[name] = new(atomic.Int64)
			wfs[name] = workflow.Define(eng, name, func(ctx workflow.Context, n int) (int, error) {
				for i := range 2 {
					var err error
					n, err = workflow.Step(ctx, fmt.Sprint("s", i), func(workflow.StepContext) (int, error) { return n + 1, nil })
					if err != nil {
						return 0, err
					}
					st, err := wfs[name].Get(ctx.InstanceID()).Status(ctx)
					if err != nil {
						return 0, err
					}
					if len(st.Steps) == i+1 && st.Steps[i].State == "done" {
						seen[name].Add(1)
					}
				}
				switch name {
				case "panics":
					panic("after the last step")
				case "fails":
					return 0, errors.New("after the last step")
				}
				return n, nil
			})
		}
	})
	workflow.WaitResumed(e)
	for _, tt := range []struct{ name, status string }{
		{"returns", workflow.StatusComplete},
		{"panics", workflow.StatusErrored},
		{"fails", workflow.StatusErrored},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := partitionEvents(t, env, tt.name)
			create(t, wfs[tt.name], "i", 1)
			listedAs(t, env, e, tt.name, "i", tt.status)
			if n := instanceEvents(t, env, tt.name, before, 4); n != 4 { // create, s0, s1, the end
				t.Errorf("%d events of the instance, want 4", n)
			}
			if n := seen[tt.name].Load(); n != 2 {
				t.Errorf("the function saw %d of its 2 steps' results durable", n)
			}
			st := wait(env, wfs[tt.name].Get("i"), tt.status)
			if len(st.Steps) != 2 || st.Steps[1].State != "done" {
				t.Fatalf("steps %+v, want both done", st.Steps)
			}
			if tt.status == workflow.StatusComplete && string(st.Output) != "3" {
				t.Fatalf("output %s, want 3", st.Output)
			}
		})
	}
}

// A Wait that is waiting when the instance ends gets its status from the
// run that ended it, without an event to read the instance.
func TestWaitGetsTheEndFromTheRun(t *testing.T) {
	var e *workflow.Engine
	var wf *workflow.Workflow[int, int]
	release := make(chan struct{})
	env := newEnv(t, func(eng *workflow.Engine) {
		e = eng
		wf = workflow.Define(eng, "waited", func(ctx workflow.Context, n int) (int, error) {
			return workflow.Step(ctx, "s", func(workflow.StepContext) (int, error) {
				<-release
				return n + 1, nil
			})
		})
	})
	workflow.WaitResumed(e)
	before := partitionEvents(t, env, "waited")
	inst := create(t, wf, "i", 1)
	type result struct {
		st  *workflow.Status
		err error
	}
	got := make(chan result, 1)
	go func() {
		st, err := inst.Wait(context.Background())
		got <- result{st, err}
	}()
	env.WaitUntil(func() bool { return workflow.Waiters(e, "waited", "i") == 1 })
	close(release)
	r := <-got
	if r.err != nil || r.st.Status != workflow.StatusComplete || string(r.st.Output) != "2" || len(r.st.Steps) != 1 {
		t.Fatalf("Wait = %+v, %v", r.st, r.err)
	}
	listedAs(t, env, e, "waited", "i", workflow.StatusComplete)
	if n := instanceEvents(t, env, "waited", before, 3); n != 3 { // create, the step, the end
		t.Errorf("%d events of the instance, want 3", n)
	}
}

// A run that stops on a failure of the server (here its journal does not
// fit the instance's database) runs again after a short delay: the step
// that was not recorded runs again, and the instance completes.
func TestARunStoppedByAFailureRunsAgain(t *testing.T) {
	var wf *workflow.Workflow[int, int]
	var calls atomic.Int64
	env := roosttest.New(t, func(_ *roost.App, env *roosttest.Env) {
		wf = workflow.Define(env.Workflows(), "refused", func(ctx workflow.Context, n int) (int, error) {
			s, err := workflow.Step(ctx, "big", func(workflow.StepContext) (string, error) {
				if calls.Add(1) == 1 {
					return strings.Repeat("x", 200<<10), nil // its record exceeds the database's limit
				}
				return "ok", nil
			})
			return len(s), err
		})
	}, roosttest.WithStart(epoch), roosttest.WithConfig(func(cfg *roost.Config) { cfg.MaxDatabaseSize = 64 << 10 }),
		roosttest.WithLogs(slog.LevelError))
	inst := create(t, wf, "i", 1)
	env.WaitUntil(func() bool { return calls.Load() == 1 })
	st := advanceUntil(env, inst, time.Second, workflow.StatusComplete)
	if string(st.Output) != "2" || calls.Load() != 2 || st.Steps[0].Attempts != 1 {
		t.Fatalf("status %+v after %d calls; want output 2 after 2 calls, the first not recorded", st, calls.Load())
	}
}
