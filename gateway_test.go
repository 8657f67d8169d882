package roost_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/roost-dev/roost"
)

// silent is an object class that handles no HTTP requests.
type silent struct{}

func TestGateway_RoutesAndErrors(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{MaxBodyBytes: 64})
	counters, _ := registerCounter(app, "counter")
	roost.Register(app.App, "silent", func(*roost.State) (silent, error) { return silent{}, nil })
	srv := serve(t, app)
	hex := counters.IDFromName("room-42").String()

	steps := []struct {
		name, method, path, body string
		want                     int64 // the counter's value
	}{
		{"increment by name", http.MethodPost, "/counter/room-42/increment", "", 1},
		{"increment again", http.MethodPost, "/counter/room-42/increment", "", 2},
		{"get by name", http.MethodGet, "/counter/room-42", "", 2},
		{"get by name with slash", http.MethodGet, "/counter/room-42/", "", 2},
		{"get by id", http.MethodGet, "/counter/id/" + hex, "", 2},
		{"increment by id", http.MethodPost, "/counter/id/" + hex + "/increment", "", 3},
		{"get by name after increment by id", http.MethodGet, "/counter/room-42", "", 3},
		{"other name is another object", http.MethodGet, "/counter/room-43", "", 0},
		{"body at the limit", http.MethodPost, "/counter/room-42/increment", strings.Repeat("x", 64), 4},
	}
	for _, s := range steps {
		res := do(t, srv, s.method, s.path, s.body)
		if got := counterValue(t, res); got != s.want {
			t.Fatalf("%s: %s %s = %d, want %d", s.name, s.method, s.path, got, s.want)
		}
		if ct := res.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q, want application/json", s.name, ct)
		}
	}

	errs := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown class", http.MethodGet, "/nosuch/a", "", http.StatusNotFound, "unknown_class"},
		{"bad id", http.MethodGet, "/counter/id/xyz", "", http.StatusBadRequest, "invalid_id"},
		{"uppercase id", http.MethodGet, "/counter/id/" + strings.ToUpper(hex), "", http.StatusBadRequest, "invalid_id"},
		{"body too large", http.MethodPost, "/counter/room-42/increment", strings.Repeat("x", 65), http.StatusRequestEntityTooLarge, "body_too_large"},
		{"object without a handler", http.MethodGet, "/silent/a", "", http.StatusNotImplemented, "not_implemented"},
		{"no object", http.MethodGet, "/", "", http.StatusNotFound, "not_found"},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) {
			wantError(t, do(t, srv, e.method, e.path, e.body), e.status, e.code)
		})
	}
	// The rejected body never reached the counter.
	if got := counterValue(t, do(t, srv, http.MethodGet, "/counter/room-42", "")); got != 4 {
		t.Errorf("counter = %d after the errors, want 4", got)
	}
}

func TestGateway_HeadAnswersLikeGetWithoutTheBody(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	counters, _ := registerCounter(app, "counter")
	srv := serve(t, app)
	do(t, srv, http.MethodPost, "/counter/h/increment", "")
	get := do(t, srv, http.MethodGet, "/counter/h", "")
	head := do(t, srv, http.MethodHead, "/counter/h", "")
	if head.status != http.StatusOK || head.body != "" {
		t.Fatalf("HEAD = %d %q, want 200 without a body", head.status, head.body)
	}
	for _, k := range []string{"Content-Type", "Content-Length"} {
		if head.header.Get(k) != get.header.Get(k) || head.header.Get(k) == "" {
			t.Errorf("HEAD %s = %q, want GET's %q", k, head.header.Get(k), get.header.Get(k))
		}
	}
	// A route that GET does not take, HEAD does not either.
	if res := do(t, srv, http.MethodHead, "/counter/h/increment", ""); res.status != http.StatusMethodNotAllowed || res.header.Get("Allow") != "POST" {
		t.Errorf("HEAD on a POST route = %d (Allow %q), want 405 (Allow POST)", res.status, res.header.Get("Allow"))
	}
	// Through a stub, the object sees a GET and the answer has no body.
	res, err := fetch(t.Context(), counters.Get(counters.IDFromName("h")), http.MethodHead, "/", "")
	if err != nil || res.status != http.StatusOK || res.body != "" || res.header.Get("Content-Length") != get.header.Get("Content-Length") {
		t.Fatalf("HEAD through a stub = %+v, %v; want 200, GET's Content-Length, no body", res, err)
	}
}
