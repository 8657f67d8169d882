package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/gateway"
	"github.com/roost-dev/roost/internal/ids"
)

// objects is a fake gateway.Objects: the real runtime is tested in its own
// package. It knows the class "counter", records what each object is sent,
// and answers with respond, or 200 "ok" when respond is nil.
type objects struct {
	respond func(*http.Request) (*http.Response, error)

	mu    sync.Mutex // guards calls
	calls []call
}

// call is what one Fetch delivered.
type call struct {
	class       string
	id          ids.ID
	method      string
	path        string // URL.Path
	escapedPath string // URL.EscapedPath()
	query       string
	requestURI  string
	idHeader    string // the X-Roost-Object-Id header
	body        []byte
}

func (o *objects) HasClass(class string) bool { return class == "counter" }

// HasMethods: the fake's classes have no RPC methods (RPC over HTTP is
// tested with real objects in the root package).
func (o *objects) HasMethods(string) bool { return false }

func (o *objects) Call(context.Context, string, ids.ID, string, string, []byte) ([]byte, error) {
	return nil, errors.New("the fake has no RPC methods")
}

func (o *objects) Fetch(ctx context.Context, class string, id ids.ID, _ string, req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	o.calls = append(o.calls, call{
		class: class, id: id, method: req.Method, path: req.URL.Path, escapedPath: req.URL.EscapedPath(),
		query: req.URL.RawQuery, requestURI: req.RequestURI, idHeader: req.Header.Get(gateway.ObjectIDHeader), body: body,
	})
	o.mu.Unlock()
	if o.respond != nil {
		return o.respond(req)
	}
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("ok"))}, nil
}

// delivered returns the calls so far.
func (o *objects) delivered() []call {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.calls)
}

// onlyCall fails the test unless exactly one call was delivered, and returns it.
func (o *objects) onlyCall(t testing.TB) call {
	t.Helper()
	calls := o.delivered()
	if len(calls) != 1 {
		t.Fatalf("Fetch called %d times, want 1", len(calls))
	}
	return calls[0]
}

// serve starts a gateway for objs on a loopback server closed at cleanup.
func serve(t testing.TB, objs *objects, cfg gateway.Config) (*gateway.Gateway, *httptest.Server) {
	t.Helper()
	cfg.Objects = objs
	g, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv
}

type result struct {
	status int
	header http.Header
	body   string
}

// do sends a request and reads the whole answer. A body of a type that
// http.NewRequest does not know goes out chunked.
func do(t testing.TB, srv *httptest.Server, method, path string, body io.Reader, header http.Header) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
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
	return result{resp.StatusCode, resp.Header, string(b)}
}

// chunked hides r's type, so the request has no Content-Length.
type chunked struct{ io.Reader }

// checkError fails the test unless res is a JSON error with status and code,
// and returns its message.
func checkError(t testing.TB, res result, status int, code errcode.Code) string {
	t.Helper()
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e struct {
		Error struct {
			Code    errcode.Code `json:"code"`
			Message string       `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(res.body), &e); err != nil {
		t.Fatalf("body %q is not the JSON error shape: %v", res.body, err)
	}
	if res.status != status || e.Error.Code != code {
		t.Fatalf("answer = %d %q (%q), want %d %q", res.status, e.Error.Code, e.Error.Message, status, code)
	}
	if e.Error.Message == "" {
		t.Fatalf("error %q has no message", code)
	}
	return e.Error.Message
}

func TestGateway_RejectsBadRequestsWithJSONErrors(t *testing.T) {
	t.Parallel()
	const limit = 1024
	tests := []struct {
		name       string
		path       string
		body       io.Reader
		wantStatus int
		wantCode   errcode.Code
		wantMsg    string
	}{
		{"root", "/", nil, 404, errcode.NotFound, "no route"},
		{"class only", "/counter", nil, 404, errcode.NotFound, "no route"},
		{"unregistered class", "/chat/foo", nil, 404, errcode.UnknownClass, `"chat"`},
		{"invalid class", "/Chat/foo", nil, 404, errcode.UnknownClass, "must start with a-z"},
		{"uppercase id", "/counter/id/" + strings.ToUpper(hexID), nil, 400, errcode.InvalidID, "byte 3 is 'A'"},
		{"short id", "/counter/id/" + hexID[:10], nil, 400, errcode.InvalidID, "length 10, want 64"},
		{"non-hex id", "/counter/id/" + strings.Repeat("z", 64), nil, 400, errcode.InvalidID, "byte 0 is 'z'"},
		{"empty name", "/counter//x", nil, 400, errcode.BadRequest, "empty object name"},
		{"long name", "/counter/" + strings.Repeat("n", 513), nil, 400, errcode.BadRequest, "want at most 512"},
		{"name not utf-8", "/counter/%FF", nil, 400, errcode.BadRequest, "not valid UTF-8"},
		{"body over limit by Content-Length", "/counter/foo", bytes.NewReader(make([]byte, limit+1)), 413, errcode.BodyTooLarge, "limit of 1024 bytes"},
		{"chunked body over limit", "/counter/foo", chunked{bytes.NewReader(make([]byte, 8*limit))}, 413, errcode.BodyTooLarge, "limit of 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs := &objects{}
			_, srv := serve(t, objs, gateway.Config{MaxBodyBytes: limit})
			res := do(t, srv, http.MethodPost, tt.path, tt.body, nil)
			if msg := checkError(t, res, tt.wantStatus, tt.wantCode); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.wantMsg)
			}
			if n := len(objs.delivered()); n != 0 {
				t.Errorf("Fetch called %d times, want 0", n)
			}
		})
	}
}

func TestGateway_ForwardsBodyIntact(t *testing.T) {
	t.Parallel()
	body := make([]byte, 4096) // exactly the limit
	for i := range body {
		body[i] = byte(i * 7)
	}
	tests := []struct {
		name string
		body func() io.Reader
	}{
		{"content length", func() io.Reader { return bytes.NewReader(body) }},
		{"chunked", func() io.Reader { return chunked{bytes.NewReader(body)} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs := &objects{}
			_, srv := serve(t, objs, gateway.Config{MaxBodyBytes: int64(len(body))})
			if res := do(t, srv, http.MethodPut, "/counter/foo", tt.body(), nil); res.status != 200 {
				t.Fatalf("status = %d (%s), want 200", res.status, res.body)
			}
			if got := objs.onlyCall(t); !bytes.Equal(got.body, body) {
				t.Fatalf("object got %d bytes, want the %d sent", len(got.body), len(body))
			}
		})
	}
}

func TestGateway_ForwardsRestOfPathAndQuery(t *testing.T) {
	t.Parallel()
	byID, _ := ids.Parse(hexID)
	tests := []struct {
		name        string
		path        string
		want        call
		wantEscaped string
	}{
		{"action and query", "/counter/foo/increment?by=2&x=%20", call{id: ids.FromName("counter", "foo"), path: "/increment", query: "by=2&x=%20", requestURI: "/increment?by=2&x=%20"}, "/increment"},
		{"no rest", "/counter/foo", call{id: ids.FromName("counter", "foo"), path: "/", requestURI: "/"}, "/"},
		{"trailing slash", "/counter/foo/?a", call{id: ids.FromName("counter", "foo"), path: "/", query: "a", requestURI: "/?a"}, "/"},
		{"encoded slashes", "/counter/a%2Fb/x%2Fy", call{id: ids.FromName("counter", "a/b"), path: "/x/y", requestURI: "/x%2Fy"}, "/x%2Fy"},
		{"double slash kept", "/counter/foo//x", call{id: ids.FromName("counter", "foo"), path: "//x", requestURI: "//x"}, "//x"},
		{"by id", "/counter/id/" + hexID + "/get", call{id: byID, path: "/get", requestURI: "/get"}, "/get"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs := &objects{}
			_, srv := serve(t, objs, gateway.Config{})
			spoof := http.Header{gateway.ObjectIDHeader: {"spoofed"}}
			if res := do(t, srv, http.MethodPatch, tt.path, nil, spoof); res.status != 200 {
				t.Fatalf("status = %d (%s), want 200", res.status, res.body)
			}
			want := tt.want
			want.class, want.method, want.escapedPath, want.idHeader = "counter", http.MethodPatch, tt.wantEscaped, want.id.String()
			got := objs.onlyCall(t)
			got.body = nil
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("object got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestGateway_CopiesResponseAndClosesBody(t *testing.T) {
	t.Parallel()
	closed := make(chan struct{})
	objs := &objects{respond: func(*http.Request) (*http.Response, error) {
		return &http.Response{
			StatusCode: http.StatusCreated,
			Header:     http.Header{"X-Test": {"a", "b"}, "Content-Type": {"text/plain"}},
			Body:       closeNotifier{strings.NewReader("made it"), closed},
		}, nil
	}}
	_, srv := serve(t, objs, gateway.Config{})
	res := do(t, srv, http.MethodPost, "/counter/foo", strings.NewReader("x"), nil)
	if res.status != http.StatusCreated || res.body != "made it" {
		t.Fatalf("answer = %d %q, want 201 \"made it\"", res.status, res.body)
	}
	if got := res.header.Values("X-Test"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("X-Test = %q, want [a b]", got)
	}
	if got := res.header.Get("Content-Type"); got != "text/plain" {
		t.Errorf("Content-Type = %q, want text/plain", got)
	}
	<-closed
}

type closeNotifier struct {
	io.Reader
	closed chan struct{}
}

func (c closeNotifier) Close() error { close(c.closed); return nil }

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestGateway_AnswersFetchErrorsByCode(t *testing.T) {
	t.Parallel()
	secret := errors.New("open /var/lib/roost/3f.db: permission denied")
	tests := []struct {
		name       string
		resp       *http.Response
		err        error
		wantStatus int
		wantCode   errcode.Code
		wantMsg    string // the whole message
		wantRetry  bool
		wantLogged string // substring of the log; empty means nothing logged
	}{
		{name: "handler panic", err: errcode.New(errcode.HandlerPanic, "handler panicked: boom"),
			wantStatus: 500, wantCode: errcode.HandlerPanic, wantMsg: "handler panicked: boom"},
		{name: "overloaded", err: errcode.New(errcode.Overloaded, "too many pending events"),
			wantStatus: 503, wantCode: errcode.Overloaded, wantMsg: "too many pending events", wantRetry: true},
		{name: "shutting down", err: errcode.New(errcode.ShuttingDown, "server is closing"),
			wantStatus: 503, wantCode: errcode.ShuttingDown, wantMsg: "server is closing", wantRetry: true},
		{name: "wrapped storage full", err: fmt.Errorf("commit: %w", errcode.New(errcode.StorageFull, "disk full")),
			wantStatus: 507, wantCode: errcode.StorageFull, wantMsg: "commit: disk full"},
		{name: "deadline", err: fmt.Errorf("fetch: %w", context.DeadlineExceeded),
			wantStatus: 504, wantCode: errcode.Timeout, wantMsg: "the deadline passed before the request finished"},
		{name: "internal hides the cause", err: fmt.Errorf("activate: %w", secret),
			wantStatus: 500, wantCode: errcode.Internal, wantMsg: "internal error", wantLogged: "permission denied"},
		{name: "no response", wantStatus: 500, wantCode: errcode.Internal, wantMsg: "internal error",
			wantLogged: "neither a response nor an error"},
		{name: "bad status", resp: &http.Response{StatusCode: 0}, wantStatus: 500, wantCode: errcode.Internal,
			wantMsg: "internal error", wantLogged: "status 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			objs := &objects{respond: func(*http.Request) (*http.Response, error) { return tt.resp, tt.err }}
			_, srv := serve(t, objs, gateway.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			res := do(t, srv, http.MethodGet, "/counter/foo/x", nil, nil)
			if msg := checkError(t, res, tt.wantStatus, tt.wantCode); msg != tt.wantMsg {
				t.Errorf("message = %q, want %q", msg, tt.wantMsg)
			}
			if got, want := res.header.Get("Retry-After"), map[bool]string{true: "1"}[tt.wantRetry]; got != want {
				t.Errorf("Retry-After = %q, want %q", got, want)
			}
			checkLogged(t, logs.String(), tt.wantLogged)
		})
	}
}

// checkLogged fails the test unless log holds want with the object's class
// and id, or is empty when want is.
func checkLogged(t testing.TB, log, want string) {
	t.Helper()
	if want == "" {
		if log != "" {
			t.Errorf("logged %q, want nothing", log)
		}
		return
	}
	idAttr := "id=" + ids.FromName("counter", "foo").String()
	for _, s := range []string{want, "class=counter", idAttr} {
		if !strings.Contains(log, s) {
			t.Errorf("log %q does not contain %q", log, s)
		}
	}
}

func TestGateway_MountedHandlersTakePrecedence(t *testing.T) {
	t.Parallel()
	objs := &objects{}
	g, srv := serve(t, objs, gateway.Config{})
	text := func(s string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, s) })
	}
	g.Handle("GET /{$}", text("home"))
	g.Handle("/metrics", text("metrics"))
	g.Handle("GET /counter/special", text("special"))
	tests := []struct {
		name, method, path, want string
	}{
		{"home page", http.MethodGet, "/", "home"},
		{"metrics", http.MethodGet, "/metrics", "metrics"},
		{"pattern over object route", http.MethodGet, "/counter/special", "special"},
		{"other method goes to object", http.MethodPost, "/counter/special", "ok"},
		{"other path goes to object", http.MethodGet, "/counter/special/x", "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, srv, tt.method, tt.path, nil, nil)
			if res.status != 200 || res.body != tt.want {
				t.Fatalf("%s %s = %d %q, want 200 %q", tt.method, tt.path, res.status, res.body, tt.want)
			}
		})
	}
	if n := len(objs.delivered()); n != 2 {
		t.Fatalf("Fetch called %d times, want 2", n)
	}
}

func TestNew_RejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     gateway.Config
		wantErr string
	}{
		{"no objects", gateway.Config{}, "Objects: required"},
		{"negative body limit", gateway.Config{Objects: &objects{}, MaxBodyBytes: -1}, "MaxBodyBytes: must be ≥ 0, got -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := gateway.New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestWriteError_NilIsInternal(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	gateway.WriteError(rec, nil)
	res := result{rec.Code, rec.Header(), rec.Body.String()}
	if msg := checkError(t, res, 500, errcode.Internal); msg != "internal error" {
		t.Fatalf("message = %q, want \"internal error\"", msg)
	}
}
