package demo_test

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/demo"
	"github.com/roost-dev/roost/roosttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The demo registers what `roost serve` shows a newcomer: the counter, the
// chat's page, and the workflows.
func TestDemo_ServesItsClassesPagesAndWorkflows(t *testing.T) {
	t.Parallel()
	env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
		demo.Register(app, env.Workflows(), demo.Config{})
	})
	if status, body := env.HTTP("POST", "/counter/apples/increment", ""); status != 200 || body != "{\"value\":1}\n" {
		t.Fatalf("counter: %d %q", status, body)
	}
	if status, _ := env.HTTP("GET", "/", ""); status != 200 {
		t.Fatalf("chat page: %d", status)
	}
	if status, body := env.HTTP("POST", "/workflows/threestep/instances", `{"id":"t1","params":1}`); status != 201 {
		t.Fatalf("threestep: %d %s", status, body)
	}
	if status, body := env.HTTP("GET", "/workflows/threestep/instances/t1?wait=10s", ""); status != 200 || !strings.Contains(body, `"output":4`) {
		t.Fatalf("threestep result: %d %s", status, body)
	}
	if status, _ := env.HTTP("GET", "/room/lobby", ""); status != 426 {
		t.Fatalf("room without upgrade: %d, want 426", status)
	}
}
