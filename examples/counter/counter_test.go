package counter_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/counter"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// serve opens an app with the counter class on a temporary directory and
// serves its gateway; both are closed on cleanup.
func serve(t testing.TB) *httptest.Server {
	t.Helper()
	app, err := roost.Open(context.Background(), roost.Config{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := app.Close(ctx); err != nil {
			t.Errorf("close app: %v", err)
		}
	})
	counter.Register(app, "counter")
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t testing.TB, srv *httptest.Server, method, path string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
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
	srv := serve(t)
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
		res := do(t, srv, s.method, s.path)
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
	srv := serve(t)
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
			res := do(t, srv, tt.method, tt.path)
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
	if res := do(t, srv, http.MethodGet, "/counter/a"); strings.TrimSpace(res.body) != `{"value":0}` {
		t.Errorf("counter after rejected requests: %s, want 0", res.body)
	}
}
