package workflow_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/roost-dev/roost/workflow"
)

func TestMetricsCountInstancesAndAttempts(t *testing.T) {
	var wf *workflow.Workflow[int, int]
	env := newEnv(t, func(e *workflow.Engine) {
		wf = workflow.Define(e, "counted", func(ctx workflow.Context, n int) (int, error) {
			return workflow.Step(ctx, "s", func(ctx workflow.StepContext) (int, error) {
				if ctx.Attempt() == 1 {
					return 0, errors.New("once")
				}
				if n < 0 {
					return 0, workflow.NonRetryable(errors.New("negative"))
				}
				return n, nil
			}, workflow.Retry{Delay: time.Second})
		})
	})
	ok := create(t, wf, "ok", 1)
	advanceUntil(env, ok, time.Second, workflow.StatusComplete)
	bad := create(t, wf, "bad", -1)
	advanceUntil(env, bad, time.Second, workflow.StatusErrored)
	sleepy := create(t, wf, "stopped", 1)
	wait(env, sleepy, workflow.StatusRunning)
	if err := sleepy.Terminate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, err := env.Workflows().Purge(context.Background(), "counted", workflow.PurgeOptions{Status: workflow.StatusErrored}); err != nil || n != 1 {
		t.Fatalf("purge of the errored instance: %d, %v", n, err)
	}
	rec := httptest.NewRecorder()
	env.App().MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`roost_workflow_instances_created_total{workflow="counted"} 3`,
		`roost_workflow_instances_finished_total{status="complete",workflow="counted"} 1`,
		`roost_workflow_instances_finished_total{status="errored",workflow="counted"} 1`,
		`roost_workflow_instances_finished_total{status="terminated",workflow="counted"} 1`,
		`roost_workflow_step_attempts_total{result="ok",workflow="counted"} 1`,
		`roost_workflow_step_attempts_total{result="failed",workflow="counted"} 1`,
		`roost_workflow_runs_queued 0`,
		`roost_workflow_instances_purged_total{workflow="counted"} 1`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(string(body), `roost_workflow_step_attempts_total{result="retry",workflow="counted"}`) {
		t.Error("no retried attempts counted")
	}
}
