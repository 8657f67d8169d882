package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/counter"
	"github.com/roost-dev/roost/internal/admin"
)

// newAdminServer serves a real app with the counter class and the admin API
// (with token, if not empty) on loopback until the test ends.
func newAdminServer(t testing.TB, token string) *httptest.Server {
	t.Helper()
	app, err := roost.Open(context.Background(), roost.Config{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	counter.Register(app, "counter")
	app.Handle("/_roost/", app.AdminHandler(token))
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := app.Close(ctx); err != nil {
			t.Errorf("close app: %v", err)
		}
	})
	return srv
}

// serveAdmin serves a real app opened with cfg (its Dir a temporary one if
// empty), with the counter class and the admin API, on loopback until the
// test ends.
func serveAdmin(t testing.TB, cfg roost.Config) (*httptest.Server, *roost.App) {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	app, err := roost.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	counter.Register(app, "counter")
	app.Handle("/_roost/", app.AdminHandler(""))
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		app.Close(ctx) // a test on a full disk may fail to write the catalog at close
	})
	return srv, app
}

// roostCLI runs the roost command with args and returns its output and
// error output.
func roostCLI(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(""))
	err = cmd.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

// mustCLI is roostCLI that fails the test on error.
func mustCLI(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := roostCLI(t, args...)
	if err != nil {
		t.Fatalf("roost %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// wantCLIError fails the test unless the command fails with an error that
// contains want.
func wantCLIError(t testing.TB, want string, args ...string) {
	t.Helper()
	_, _, err := roostCLI(t, args...)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("roost %s: error %v, want one containing %q", strings.Join(args, " "), err, want)
	}
}

func increment(t testing.TB, srv *httptest.Server, name string, times int) {
	t.Helper()
	for range times {
		resp, err := srv.Client().Post(srv.URL+"/counter/"+name+"/increment", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("increment %s: %s", name, resp.Status)
		}
	}
}

func counterValue(t testing.TB, srv *httptest.Server, name string) int64 {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/counter/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct{ Value int64 }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v.Value
}

// sqlite3 runs the sqlite3 shell on file. The shell is a test dependency:
// the test fails, never skips, without it.
func sqlite3(t testing.TB, file, sql string) string {
	t.Helper()
	bin, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatalf("the sqlite3 shell is required (apt-get install sqlite3, as .ci/run does): %v", err)
	}
	out, err := exec.Command(bin, "-batch", "-bail", file, sql).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s %q: %v\n%s", file, sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestObjects_LsInspectAndSQL(t *testing.T) {
	t.Parallel()
	srv := newAdminServer(t, "")
	increment(t, srv, "c1", 3)
	increment(t, srv, "c2", 1)
	increment(t, srv, "c3", 1)
	s := "--server=" + srv.URL

	out := mustCLI(t, "objects", "ls", s)
	for _, want := range []string{"CLASS", "NAME", "c1", "c2", "c3", "counter"} {
		if !strings.Contains(out, want) {
			t.Fatalf("ls output lacks %q:\n%s", want, out)
		}
	}
	out, errOut, err := roostCLI(t, "objects", "ls", "counter", "--sort", "active", "--limit", "2", s)
	if err != nil || strings.Count(out, "counter ") != 2 || !strings.Contains(errOut, "--cursor ") {
		t.Fatalf("ls --limit 2: %v\n%s\n%s", err, out, errOut)
	}
	var page admin.Page
	if err := json.Unmarshal([]byte(mustCLI(t, "objects", "ls", "--all", "--limit", "1", "--json", "--wide", s)), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != 3 || page.Next != "" {
		t.Fatalf("ls --all --limit 1: %+v", page)
	}
	id := page.Objects[0].ID.String()
	if out := mustCLI(t, "objects", "ls", "--wide", s); !strings.Contains(out, id) {
		t.Fatalf("ls --wide lacks the whole ID %s:\n%s", id, out)
	}

	out = mustCLI(t, "objects", "inspect", "counter", "c1", s)
	for _, want := range []string{"name         c1", "table  counter  1", "alarm and timers (0)"} {
		if !strings.Contains(out, want) {
			t.Fatalf("inspect output lacks %q:\n%s", want, out)
		}
	}
	var in admin.Inspection
	if err := json.Unmarshal([]byte(mustCLI(t, "objects", "inspect", "counter", id, "--json", s)), &in); err != nil {
		t.Fatal(err)
	}
	if in.Object.ID.String() != id || len(in.Tables) != 1 {
		t.Fatalf("inspect by ID: %+v", in)
	}

	if out := mustCLI(t, "objects", "sql", "counter", "c1", "SELECT value FROM counter", s); !strings.Contains(out, "value\n3\n(1 rows)") {
		t.Fatalf("sql output:\n%s", out)
	}
	wantCLIError(t, "read_only: ", "objects", "sql", "counter", "c1", "UPDATE counter SET value = 10", s)
	if out := mustCLI(t, "objects", "sql", "counter", "c1", "UPDATE counter SET value = ?", "--args", "[10]", "--write", s); !strings.Contains(out, "1 rows changed") {
		t.Fatalf("sql --write output:\n%s", out)
	}
	if v := counterValue(t, srv, "c1"); v != 10 {
		t.Fatalf("counter after sql --write = %d, want 10", v)
	}
}

func TestObjects_ExportImportAndRm(t *testing.T) {
	t.Parallel()
	srv := newAdminServer(t, "")
	increment(t, srv, "src", 5)
	increment(t, srv, "busy", 1)
	s := "--server=" + srv.URL
	file := filepath.Join(t.TempDir(), "src.sqlite")

	if out := mustCLI(t, "objects", "export", "counter", "src", "-o", file, s); !strings.Contains(out, "exported counter/src") {
		t.Fatalf("export output: %s", out)
	}
	if got := sqlite3(t, file, "PRAGMA integrity_check; SELECT value FROM counter"); got != "ok\n5" {
		t.Fatalf("exported file: %q", got)
	}
	wantCLIError(t, "exists", "objects", "export", "counter", "src", "-o", file, s)
	increment(t, srv, "src", 1)
	mustCLI(t, "objects", "export", "counter", "src", "-o", file, "--force", s)
	if got := sqlite3(t, file, "SELECT value FROM counter"); got != "6" {
		t.Fatalf("re-exported file: %q", got)
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Fatalf("the export left files behind: %v", entries)
	}
	wantCLIError(t, "not_found: ", "objects", "export", "counter", "nobody", "-o", file+".2", s)
	if _, err := os.Stat(file + ".2"); !os.IsNotExist(err) {
		t.Fatalf("a failed export left %s: %v", file+".2", err)
	}

	mustCLI(t, "objects", "import", "counter", "copy", file, s)
	if v := counterValue(t, srv, "copy"); v != 6 {
		t.Fatalf("imported counter = %d, want 6", v)
	}
	wantCLIError(t, "conflict: ", "objects", "import", "counter", "busy", file, s)
	if v := counterValue(t, srv, "busy"); v != 1 {
		t.Fatalf("counter after a refused import = %d, want 1", v)
	}
	mustCLI(t, "objects", "import", "counter", "busy", file, "--force", s)
	if v := counterValue(t, srv, "busy"); v != 6 {
		t.Fatalf("counter after a forced import = %d, want 6", v)
	}

	wantCLIError(t, "--yes", "objects", "rm", "counter", "copy", s) // stdin is not a terminal
	if out := mustCLI(t, "objects", "rm", "counter", "copy", "--yes", s); !strings.Contains(out, "removed counter/copy") {
		t.Fatalf("rm output: %s", out)
	}
	wantCLIError(t, "not_found: ", "objects", "inspect", "counter", "copy", s)
	if out := mustCLI(t, "objects", "ls", s); strings.Contains(out, "copy") {
		t.Fatalf("ls after rm still shows the object:\n%s", out)
	}
}

func TestObjects_ErrorsShowTheirCode(t *testing.T) {
	t.Parallel()
	srv := newAdminServer(t, "")
	s := "--server=" + srv.URL
	wantCLIError(t, "unknown_class: ", "objects", "inspect", "nope", "x", s)
	wantCLIError(t, "unknown_class: ", "objects", "ls", "nope", s)
	wantCLIError(t, "invalid_id: ", "objects", "inspect", "counter", "xyz", "--id", s)
	wantCLIError(t, "bad_request: ", "objects", "ls", "--sort", "color", s)
	wantCLIError(t, "bad_request: ", "objects", "ls", "--server", "not a url")
	wantCLIError(t, "if any flags in the group [name id] are set none of the others can be", "objects", "inspect", "counter", "x", "--id", "--name", s)
}

// Not parallel: it sets the process's environment.
func TestObjects_ServerAndTokenFromEnvironment(t *testing.T) {
	srv := newAdminServer(t, "s3cret")
	increment(t, srv, "env", 1)
	t.Setenv("ROOST_SERVER", srv.URL)
	wantCLIError(t, "unauthorized: ", "objects", "ls")
	t.Setenv("ROOST_ADMIN_TOKEN", "s3cret")
	if out := mustCLI(t, "objects", "ls"); !strings.Contains(out, "env") {
		t.Fatalf("ls with ROOST_SERVER and ROOST_ADMIN_TOKEN:\n%s", out)
	}
	wantCLIError(t, "unauthorized: ", "objects", "ls", "--token", "wrong") // flags win
	t.Setenv("ROOST_SERVER", "http://127.0.0.1:1")
	if out := mustCLI(t, "objects", "ls", "--server", srv.URL); !strings.Contains(out, "env") {
		t.Fatalf("ls with --server over ROOST_SERVER:\n%s", out)
	}
	wantCLIError(t, "reach the Roost server at http://127.0.0.1:1", "objects", "ls")
}

// lsID returns the ID column of the row of the object named name in the
// output of ls.
func lsID(t testing.TB, out, name string) string {
	t.Helper()
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 2 && f[2] == name {
			return f[1]
		}
	}
	t.Fatalf("ls output has no row for %s:\n%s", name, out)
	return ""
}

func TestObjects_TheIDsLsPrintsWorkInTheOtherCommands(t *testing.T) {
	t.Parallel()
	srv := newAdminServer(t, "")
	increment(t, srv, "c1", 3)
	increment(t, srv, "c2", 1)
	increment(t, srv, "c3", 1)
	s := "--server=" + srv.URL
	short := lsID(t, mustCLI(t, "objects", "ls", s), "c1")
	whole := lsID(t, mustCLI(t, "objects", "ls", "--wide", s), "c1")
	if len(short) != 12 || !strings.HasPrefix(whole, short) {
		t.Fatalf("ls printed the ID %s, ls --wide %s", short, whole)
	}

	out := mustCLI(t, "objects", "inspect", "counter", short, s)
	for _, want := range []string{"id           " + whole, "name         c1", "table  counter  1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("inspect counter %s: output lacks %q:\n%s", short, want, out)
		}
	}
	if out := mustCLI(t, "objects", "inspect", "counter", short, "--id", s); !strings.Contains(out, whole) {
		t.Fatalf("inspect counter %s --id:\n%s", short, out)
	}
	if out := mustCLI(t, "objects", "sql", "counter", short, "SELECT value FROM counter", s); !strings.Contains(out, "value\n3\n") {
		t.Fatalf("sql on counter %s:\n%s", short, out)
	}
	file := filepath.Join(t.TempDir(), "c1.sqlite")
	mustCLI(t, "objects", "export", "counter", whole[:20], "-o", file, s)
	mustCLI(t, "objects", "import", "counter", lsID(t, mustCLI(t, "objects", "ls", s), "c2"), file, "--force", s)
	if v := counterValue(t, srv, "c2"); v != 3 {
		t.Fatalf("c2 after importing c1's export by ID prefix = %d, want 3", v)
	}
	if out := mustCLI(t, "objects", "rm", "counter", short, "--yes", s); !strings.Contains(out, "removed counter/"+whole) {
		t.Fatalf("rm counter %s: %s", short, out)
	}
	wantCLIError(t, "not_found: no counter object has an ID that starts with "+short, "objects", "inspect", "counter", short, s)
}

func TestObjects_AnIDPrefixMustNameOneObject(t *testing.T) {
	t.Parallel()
	srv := newAdminServer(t, "")
	a := "aaaaaaaaaaaa1" + strings.Repeat("0", 51)
	b := "aaaaaaaaaaaa2" + strings.Repeat("0", 51)
	increment(t, srv, "id/"+a, 1)
	increment(t, srv, "id/"+b, 2)
	increment(t, srv, "abcdefabcdef", 3) // a name that looks like the start of an ID
	s := "--server=" + srv.URL

	wantCLIError(t, "bad_request: 2 counter objects have an ID that starts with aaaaaaaaaaaa: "+a+", "+b+"; give more of the ID",
		"objects", "inspect", "counter", "aaaaaaaaaaaa", s)
	if out := mustCLI(t, "objects", "sql", "counter", "aaaaaaaaaaaa2", "SELECT value FROM counter", s); !strings.Contains(out, "value\n2\n") {
		t.Fatalf("sql on counter aaaaaaaaaaaa2:\n%s", out)
	}
	wantCLIError(t, "not_found: no counter object has an ID that starts with abcdefabcdef (an argument of 12 to 63 hex characters is read as the start of an ID; add --name if it is a name)",
		"objects", "inspect", "counter", "abcdefabcdef", s)
	if out := mustCLI(t, "objects", "sql", "counter", "abcdefabcdef", "--name", "SELECT value FROM counter", s); !strings.Contains(out, "value\n3\n") {
		t.Fatalf("sql on counter --name abcdefabcdef:\n%s", out)
	}
	wantCLIError(t, "unknown_class: ", "objects", "inspect", "nope", "aaaaaaaaaaaa", s)
	wantCLIError(t, "invalid_id: ", "objects", "inspect", "counter", "aaaaaaaaaaa", "--id", s) // 11 characters
}
