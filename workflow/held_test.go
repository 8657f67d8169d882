package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/roost-dev/roost/roosttest"
	"github.com/roost-dev/roost/workflow"
)

// instanceEvents is the number of events the objects of workflow name ran,
// from the app's metrics.
func instanceEvents(t *testing.T, env *roosttest.Env, name string) int {
	t.Helper()
	rec := httptest.NewRecorder()
	env.App().MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	re := regexp.MustCompile(`(?m)^roost_events_total\{[^}]*class="wf-` + name + `"[^}]*\} (\d+)$`)
	n := 0
	for _, m := range re.FindAllSubmatch(body, -1) {
		v, _ := strconv.Atoi(string(m[1]))
		n += v
	}
	return n
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

// A function that ends right after its last step records its end in the
// step's event: one commit fewer. When the code after the last step runs
// longer than the event is held, or panics, the step commits alone and the
// end follows in an event of its own; the results are the same.
func TestTheEndCommitsWithTheLastStep(t *testing.T) {
	var e *workflow.Engine
	wfs := map[string]*workflow.Workflow[int, int]{}
	env := newEnv(t, func(eng *workflow.Engine) {
		e = eng
		for _, name := range []string{"quick", "slow", "panics", "fails"} {
			wfs[name] = workflow.Define(eng, name, func(ctx workflow.Context, n int) (int, error) {
				for i := range 2 {
					var err error
					n, err = workflow.Step(ctx, fmt.Sprint("s", i), func(workflow.StepContext) (int, error) { return n + 1, nil })
					if err != nil {
						return 0, err
					}
				}
				switch name {
				case "slow":
					time.Sleep(100 * time.Millisecond) // longer than the event is held
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
	for _, tt := range []struct {
		name, status string
		events       int // create, s0, s1, and the end's own unless held
	}{
		{"quick", workflow.StatusComplete, 3},
		{"slow", workflow.StatusComplete, 4},
		{"panics", workflow.StatusErrored, 3},
		{"fails", workflow.StatusErrored, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			create(t, wfs[tt.name], "i", 1)
			listedAs(t, env, e, tt.name, "i", tt.status)
			if n := instanceEvents(t, env, tt.name); n != tt.events {
				t.Errorf("%d events of the instance, want %d", n, tt.events)
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
