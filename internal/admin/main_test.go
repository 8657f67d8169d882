package admin_test

import (
	"context"
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
	"github.com/roost-dev/roost/internal/admin"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newApp opens a real app on a temporary directory with two classes:
// counter (the example) and kv, whose objects store each PUT /{key} body
// under key. It is closed on cleanup.
func newApp(t testing.TB) *roost.App {
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
	roost.Register(app, "kv", func(st *roost.State) (*kvObject, error) { return &kvObject{st}, nil })
	return app
}

type kvObject struct{ st *roost.State }

func (o *kvObject) Fetch(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPut {
		return roost.NewError("method_not_allowed", "PUT only")
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	return o.st.Storage().Put(r.Context(), r.URL.Path[1:], b)
}

// serveAdmin serves app's gateway on loopback with the admin API mounted
// with token, and returns the server and a client that sends clientToken.
func serveAdmin(t testing.TB, app *roost.App, token, clientToken string) (*httptest.Server, *admin.Client) {
	t.Helper()
	app.Handle(admin.Prefix, app.AdminHandler(token))
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	c, err := admin.NewClient(srv.URL, clientToken, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// put stores value under key in the kv object name, through the gateway.
func put(t testing.TB, srv *httptest.Server, name, key, value string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL+"/kv/"+name+"/"+key, strings.NewReader(value))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT %s/%s: %s", name, key, resp.Status)
	}
}
