package roost

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/store"
)

// counterObj is a durable counter, as examples/counter (which this package's
// own tests cannot import): POST /increment, GET /.
type counterObj struct{ st *State }

func newCounterObj(st *State) (*counterObj, error) {
	err := st.BlockConcurrencyWhile(st.Context(), func(ctx context.Context) error {
		_, err := st.Storage().Exec(ctx, `CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)`)
		return err
	})
	return &counterObj{st: st}, err
}

func (c *counterObj) Fetch(w http.ResponseWriter, r *http.Request) error {
	var v int64
	var err error
	switch r.URL.Path {
	case "/increment":
		err = c.st.Storage().QueryRow(r.Context(), `INSERT INTO counter (id, value) VALUES (1, 1)
			ON CONFLICT (id) DO UPDATE SET value = value + 1 RETURNING value`).Scan(&v)
	default:
		err = c.st.Storage().QueryRow(r.Context(), `SELECT value FROM counter WHERE id = 1`).Scan(&v)
		if errors.Is(err, ErrNoRows) {
			err = nil
		}
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(map[string]int64{"value": v})
}

// openCounters opens an app on dir with the class "counter" and a gateway
// server, all closed on cleanup.
func openCounters(t testing.TB, dir string, faults *store.Faults) (*App, *Namespace, *httptest.Server) {
	t.Helper()
	app, err := Open(context.Background(), Config{Dir: dir, Logger: slog.New(slog.DiscardHandler), faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeTestApp(t, app) })
	ns := Register(app, "counter", newCounterObj)
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	return app, ns, srv
}

func closeTestApp(t testing.TB, app *App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Close(ctx); err != nil {
		t.Errorf("close app: %v", err)
	}
}

// call sends a request to the counter named name, in process or through the
// gateway, and returns its value or its error code and HTTP status.
func call(t testing.TB, ns *Namespace, srv *httptest.Server, gateway bool, method, name, path string) (value int64, code string, status int) {
	t.Helper()
	var body []byte
	if gateway {
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+"/counter/"+name+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if body, err = io.ReadAll(resp.Body); err != nil {
			t.Fatal(err)
		}
		status = resp.StatusCode
		if status != http.StatusOK {
			var e struct{ Error struct{ Code string } }
			if err := json.Unmarshal(body, &e); err != nil || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d with a body that is not a JSON error: %q", status, body)
			}
			return 0, e.Error.Code, status
		}
	} else {
		req, err := http.NewRequestWithContext(t.Context(), method, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ns.Get(ns.IDFromName(name)).Fetch(t.Context(), req)
		if err != nil {
			return 0, ErrorCode(err), 0
		}
		defer resp.Body.Close()
		if body, err = io.ReadAll(resp.Body); err != nil {
			t.Fatal(err)
		}
		status = resp.StatusCode
	}
	var v struct{ Value int64 }
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("counter answered %q: %v", body, err)
	}
	return v.Value, "", status
}

func TestFailure_CommitFailureIsNotAcknowledged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		op         store.Op
		gateway    bool
		wantCode   string
		wantStatus int
	}{
		{"fsync fails", store.OpSync, false, "storage_failed", 0},
		{"fsync fails via gateway", store.OpSync, true, "storage_failed", http.StatusInternalServerError},
		{"disk full", store.OpWrite, false, "storage_full", 0},
		{"disk full via gateway", store.OpWrite, true, "storage_full", http.StatusInsufficientStorage},
	}
	dir := t.TempDir()
	faults := &store.Faults{}
	app, ns, srv := openCounters(t, dir, faults)
	name := func(i int) string { return "c" + strconv.Itoa(i) }
	wantValue := func(t *testing.T, ns *Namespace, srv *httptest.Server, gateway bool, method, name, path string, want int64) {
		t.Helper()
		v, code, status := call(t, ns, srv, gateway, method, name, path)
		if code != "" || v != want {
			t.Fatalf("%s %s%s: value %d, code %q (status %d); want value %d", method, name, path, v, code, status, want)
		}
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantValue(t, ns, srv, tt.gateway, http.MethodPost, name(i), "/increment", 1)
			// Fail the next operation on this object's files only: the
			// other subtests' objects share the store.
			faults.Fail(tt.op, ns.IDFromName(name(i)).String(), 1)
			_, code, status := call(t, ns, srv, tt.gateway, http.MethodPost, name(i), "/increment")
			if code != tt.wantCode || status != tt.wantStatus {
				t.Fatalf("increment with a failing commit: code %q, status %d; want %q, %d", code, status, tt.wantCode, tt.wantStatus)
			}
			wantValue(t, ns, srv, tt.gateway, http.MethodGet, name(i), "/", 1)
		})
	}
	closeTestApp(t, app)
	faults.Clear()

	// After a restart the failed increments are still not there, and the
	// counters go on.
	app, ns, srv = openCounters(t, dir, nil)
	for i, tt := range tests {
		t.Run(tt.name+" after restart", func(t *testing.T) {
			wantValue(t, ns, srv, tt.gateway, http.MethodGet, name(i), "/", 1)
			wantValue(t, ns, srv, tt.gateway, http.MethodPost, name(i), "/increment", 2)
		})
	}
	closeTestApp(t, app)
	if n := CheckIntegrity(t, dir); n != len(tests) {
		t.Errorf("checked %d database files, want %d", n, len(tests))
	}
	for i := range tests {
		file := filepath.Join(dir, store.Path("counter", ns.IDFromName(name(i))))
		if got := SQLite3(t, file, "SELECT value FROM counter"); got != "2" {
			t.Errorf("%s: counter value %q in the file, want 2", file, got)
		}
	}
}
