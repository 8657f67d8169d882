package demo_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/demo"
	"github.com/roost-dev/roost/roosttest"
	"github.com/roost-dev/roost/yjs"
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
	if status, _ := env.HTTP("GET", "/editor", ""); status != 200 {
		t.Fatalf("editor page: %d", status)
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

// Anonymous reads create no storage: a counter never written, a chat room
// joined and left without a message, a bad request, a room's member count,
// a Yjs document never written. The first write creates the object.
func TestDemo_ReadsCreateNoStorage(t *testing.T) {
	t.Parallel()
	env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
		demo.Register(app, env.Workflows(), demo.Config{})
		yjs.Register(app, "yjs", nil)
	})
	for _, r := range []struct{ method, path string }{
		{"GET", "/counter/neverseen"},
		{"POST", "/counter/neverseen/rpc/get"},
		{"GET", "/chatroom/lobby"},
		{"POST", "/room/lobby/rpc/members"},
		{"GET", "/yjs/never-written"},
	} {
		if status, body := env.HTTP(r.method, r.path, ""); status >= 500 {
			t.Fatalf("%s %s: %d %s", r.method, r.path, status, body)
		}
	}
	ws := env.DialWS("/chatroom/lobby?name=ada")
	ws.SetReadDeadline(time.Now().Add(roosttest.WaitTimeout))
	if _, msg, err := ws.ReadMessage(); err != nil || !strings.Contains(string(msg), `"history"`) {
		t.Fatalf("joining the chat: %q, %v", msg, err)
	}
	ws.Close()
	env.Advance(time.Second)
	if files := objectFiles(t, env.Dir()); len(files) > 0 {
		t.Fatalf("reads left files: %v", files)
	}
	env.HTTP("POST", "/counter/written/increment", "")
	if files := objectFiles(t, env.Dir()); len(files) == 0 {
		t.Fatal("a write left no file: the test looks in the wrong place")
	}
}

// objectFiles lists the files of the objects of the demo's classes under
// the data directory dir (workflow instances and their index are not
// asked for here).
func objectFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, class := range []string{"counter", "chatroom", "ratelimit", "room", "yjs"} {
		err := filepath.WalkDir(filepath.Join(dir, "objects", class), func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err == nil && !d.IsDir() {
				out = append(out, path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}
