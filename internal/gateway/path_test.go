package gateway_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/gateway"
)

func TestGateway_DotSegmentsGet400NeverARedirect(t *testing.T) {
	t.Parallel()
	objs := &objects{}
	g, srv := serve(t, objs, gateway.Config{})
	mounted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "mounted") })
	g.Handle("GET /{$}", mounted)
	g.Handle("/_roost/", mounted)
	srv.Client().CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, path := range []string{
		"/counter/..",                      // ServeMux would redirect to /
		"/counter/x/../../_roost/objects",  // … and this to /_roost/objects
		"/counter/x/./y",                   // a dot segment in the object's rest
		"/counter/x/..",                    // … at its end
		"/_roost/objects/counter/x/../../", // on a mounted route
		"//_roost/objects",                 // an empty segment ServeMux would clean away
		"/_roost//objects",
	} {
		t.Run(path, func(t *testing.T) {
			res := do(t, srv, http.MethodGet, path, nil, nil)
			if res.status != http.StatusBadRequest {
				t.Fatalf("GET %s = %d (Location %q), want 400", path, res.status, res.header.Get("Location"))
			}
			checkError(t, res, http.StatusBadRequest, errcode.BadRequest)
		})
	}
	if n := len(objs.delivered()); n != 0 {
		t.Fatalf("Fetch called %d times, want 0", n)
	}
}

func TestGateway_EncodedDotsAndEmptySegmentsStayTheObjects(t *testing.T) {
	t.Parallel()
	objs := &objects{}
	g, srv := serve(t, objs, gateway.Config{})
	g.Handle("/_roost/", http.NotFoundHandler())
	// %2E%2E is the name "..", and a // in the rest of the path is the
	// object's: neither is resolved, and neither is refused.
	for _, path := range []string{"/counter/%2E%2E/x", "/counter/a//b", "/counter/a/%2e/b"} {
		if res := do(t, srv, http.MethodGet, path, nil, nil); res.status != http.StatusOK {
			t.Fatalf("GET %s = %d %s, want 200 from the object", path, res.status, res.body)
		}
	}
	if n := len(objs.delivered()); n != 3 {
		t.Fatalf("Fetch called %d times, want 3", n)
	}
}
