package counter_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/counter"
	"github.com/roost-dev/roost/roosttest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// serve opens an app with the counter class, as main registers it.
func serve(t testing.TB) *roosttest.Env {
	t.Helper()
	return roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
		counter.Register(app, "counter")
	})
}

type response struct {
	status int
	header http.Header
	body   string
}

// do makes a request to the env's server. It is Env.HTTP with the
// response's header, which these tests check.
func do(t testing.TB, env *roosttest.Env, method, path string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, env.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := env.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func TestCounter_IncrementsAndReads(t *testing.T) {
	t.Parallel()
	env := serve(t)
	steps := []struct {
		method, path string
		want         string
	}{
		{http.MethodGet, "/counter/a", `{"value":0}`},
		{http.MethodPost, "/counter/a/increment", `{"value":1}`},
		{http.MethodPost, "/counter/a/increment", `{"value":2}`},
		{http.MethodPost, "/counter/b/increment", `{"value":1}`},
		{http.MethodGet, "/counter/a", `{"value":2}`},
		{http.MethodGet, "/counter/b/", `{"value":1}`},
	}
	for _, s := range steps {
		res := do(t, env, s.method, s.path)
		if res.status != http.StatusOK || strings.TrimSpace(res.body) != s.want {
			t.Fatalf("%s %s = %d %s, want 200 %s", s.method, s.path, res.status, res.body, s.want)
		}
		if ct := res.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", s.method, s.path, ct)
		}
	}
}

func TestCounter_RejectsWrongMethodAndPath(t *testing.T) {
	t.Parallel()
	env := serve(t)
	tests := []struct {
		name, method, path string
		status             int
		code, allow        string
	}{
		{"GET increment", http.MethodGet, "/counter/a/increment", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{"POST root", http.MethodPost, "/counter/a", http.StatusMethodNotAllowed, "method_not_allowed", "GET"},
		{"unknown path", http.MethodGet, "/counter/a/nope", http.StatusNotFound, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, env, tt.method, tt.path)
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal([]byte(res.body), &e); err != nil {
				t.Fatalf("body %q is not a JSON error: %v", res.body, err)
			}
			if res.status != tt.status || e.Error.Code != tt.code {
				t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, res.status, e.Error.Code, tt.status, tt.code)
			}
			if got := res.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
	// Nothing was counted.
	if res := do(t, env, http.MethodGet, "/counter/a"); strings.TrimSpace(res.body) != `{"value":0}` {
		t.Errorf("counter after rejected requests: %s, want 0", res.body)
	}
}

func TestCounter_KeepsItsValueAcrossARestart(t *testing.T) {
	t.Parallel()
	env := serve(t)
	do(t, env, http.MethodPost, "/counter/a/increment")
	do(t, env, http.MethodPost, "/counter/a/increment")
	env.Restart() // the instance is gone from memory; its SQL table stays
	if res := do(t, env, http.MethodPost, "/counter/a/increment"); strings.TrimSpace(res.body) != `{"value":3}` {
		t.Fatalf("increment after a restart: %d %s, want {\"value\":3}", res.status, res.body)
	}
}

// The RPC methods, from Go and over HTTP, see and change the value the
// HTTP routes do.
func TestCounter_RPC(t *testing.T) {
	var ns *roost.Namespace
	env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) { ns = counter.Register(app, "counter") })
	stub := ns.GetByName("r")
	if v, err := counter.Add.Call(t.Context(), stub, counter.AddRequest{By: 5}); err != nil || v.Value != 5 {
		t.Fatalf("Add(5) = %+v, %v; want 5", v, err)
	}
	if res := do(t, env, http.MethodPost, "/counter/r/increment"); !strings.Contains(res.body, `"value":6`) {
		t.Fatalf("POST /increment after Add(5): %q, want 6", res.body)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, env.URL()+"/counter/r/rpc/add", strings.NewReader(`{"by":-2}`))
	resp, err := env.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var v counter.Value
	err = json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || v.Value != 4 {
		t.Fatalf("POST /counter/r/rpc/add {by:-2}: %d %+v %v, want 4", resp.StatusCode, v, err)
	}
	if v, err := counter.Get.Call(t.Context(), stub, struct{}{}); err != nil || v.Value != 4 {
		t.Fatalf("Get = %+v, %v; want 4", v, err)
	}
}
