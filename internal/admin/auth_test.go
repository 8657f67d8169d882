package admin_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/roost-dev/roost/internal/admin"
	"github.com/roost-dev/roost/internal/errcode"
)

// call sends a request to h straight through ServeHTTP, from remote (a
// host:port), and returns the status and error code.
func call(t testing.TB, h http.Handler, remote, host string, header http.Header) (int, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://"+host+"/_roost/objects", nil)
	r.RemoteAddr = remote
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(w.Body.Bytes(), &e)
	if w.Code == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without a WWW-Authenticate: Bearer challenge")
	}
	return w.Code, e.Error.Code
}

func TestAuth_WithoutTokenServesOnlyLoopback(t *testing.T) {
	t.Parallel()
	h := newApp(t).AdminHandler("")
	for _, tc := range []struct {
		name, remote, host string
		header             http.Header
		status             int
		code               string
	}{
		{"ipv4 loopback", "127.0.0.1:5555", "127.0.0.1:8080", nil, 200, ""},
		{"other loopback address", "127.9.9.9:5555", "localhost:8080", nil, 200, ""},
		{"ipv6 loopback", "[::1]:5555", "[::1]:8080", nil, 200, ""},
		{"mapped ipv4 loopback", "[::ffff:127.0.0.1]:5555", "127.0.0.1", nil, 200, ""},
		{"remote", "203.0.113.9:5555", "127.0.0.1:8080", nil, 403, "forbidden"},
		{"remote ipv6", "[2001:db8::1]:5555", "127.0.0.1:8080", nil, 403, "forbidden"},
		{"remote claiming to be forwarded from loopback", "203.0.113.9:5555", "127.0.0.1:8080", http.Header{
			"X-Forwarded-For": {"127.0.0.1"}, "X-Real-Ip": {"127.0.0.1"}, "Forwarded": {"for=127.0.0.1"},
		}, 403, "forbidden"},
		{"no address", "", "127.0.0.1", nil, 403, "forbidden"},
		{"loopback caller naming another host (DNS rebinding)", "127.0.0.1:5555", "evil.example:8080", nil, 403, "forbidden"},
		{"loopback caller from a web page", "127.0.0.1:5555", "127.0.0.1:8080", http.Header{"Origin": {"https://evil.example"}}, 403, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, code := call(t, h, tc.remote, tc.host, tc.header)
			if status != tc.status || code != tc.code {
				t.Fatalf("got %d %q, want %d %q", status, code, tc.status, tc.code)
			}
		})
	}
}

func TestAuth_WithTokenEveryCallerNeedsIt(t *testing.T) {
	t.Parallel()
	h := newApp(t).AdminHandler("s3cret-token")
	bearer := func(v string) http.Header { return http.Header{"Authorization": {v}} }
	for _, tc := range []struct {
		name, remote string
		header       http.Header
		status       int
		code         string
	}{
		{"remote without header", "203.0.113.9:5555", nil, 401, "unauthorized"},
		{"remote with a wrong token", "203.0.113.9:5555", bearer("Bearer s3cret-tokem"), 401, "unauthorized"},
		{"remote with a prefix of the token", "203.0.113.9:5555", bearer("Bearer s3cret"), 401, "unauthorized"},
		{"remote with the token as basic auth", "203.0.113.9:5555", bearer("Basic s3cret-token"), 401, "unauthorized"},
		{"remote with an empty bearer", "203.0.113.9:5555", bearer("Bearer "), 401, "unauthorized"},
		{"remote with the token", "203.0.113.9:5555", bearer("Bearer s3cret-token"), 200, ""},
		{"scheme in lower case", "203.0.113.9:5555", bearer("bearer s3cret-token"), 200, ""},
		{"loopback without header", "127.0.0.1:5555", nil, 401, "unauthorized"},
		{"loopback with the token", "127.0.0.1:5555", bearer("Bearer s3cret-token"), 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, code := call(t, h, tc.remote, "roost.example:8080", tc.header)
			if status != tc.status || code != tc.code {
				t.Fatalf("got %d %q, want %d %q", status, code, tc.status, tc.code)
			}
		})
	}
}

func TestAuth_ClientSendsTheToken(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	srv, good := serveAdmin(t, app, "tok", "tok")
	if _, err := good.List(t.Context(), admin.ListOptions{}); err != nil {
		t.Fatalf("list with the token: %v", err)
	}
	for _, token := range []string{"", "other"} {
		c, err := admin.NewClient(srv.URL, token, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.List(t.Context(), admin.ListOptions{})
		if ce, ok := errors.AsType[*errcode.Error](err); !ok || ce.Code != errcode.Unauthorized {
			t.Errorf("list with token %q: %v, want code unauthorized", token, err)
		}
	}
}
