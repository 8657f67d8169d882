package editor_test

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/editor"
	"github.com/roost-dev/roost/roosttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The page and its modules are served; the page loads its script from
// where it is served.
func TestEditor_ServesThePageAndItsModules(t *testing.T) {
	env := roosttest.New(t, func(app *roost.App, _ *roosttest.Env) { editor.Register(app) })
	status, page := env.HTTP("GET", "/editor?doc=x", "")
	if status != 200 || !strings.Contains(page, `src="/editor/static/editor.js"`) {
		t.Fatalf("GET /editor: %d %.200s", status, page)
	}
	for _, path := range []string{"/editor/static/editor.js", "/editor/static/yjs.js"} {
		if status, body := env.HTTP("GET", path, ""); status != 200 || len(body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", path, status, len(body))
		}
	}
	if status, _ := env.HTTP("GET", "/editor/static/nope.js", ""); status != 404 {
		t.Errorf("GET of a missing file: %d, want 404", status)
	}
}
