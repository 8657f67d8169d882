package hardening

import (
	"net/http"
	"testing"
)

// TestPaths_DotSegmentsGet400NotARedirect is issue 12's path probe: GET
// /counter/.. answered 307 to /, and /counter/x/../../_roost/objects 307 to
// /_roost/objects, turning object paths into other routes.
func TestPaths_DotSegmentsGet400NotARedirect(t *testing.T) {
	t.Parallel()
	srv := start(t, 0)
	c := srv.dial(t)
	for _, path := range []string{
		"/counter/..",
		"/counter/x/../../_roost/objects",
		"/counter/x/./increment",
		"/workflows/order/instances/..",
		"//_roost/objects",
	} {
		for _, method := range []string{"GET", "POST"} {
			checkError(t, c.do(t, method, path), http.StatusBadRequest, "bad_request")
		}
	}
}

// TestPaths_HeadAnswersLikeGetWithoutABody: HEAD on a GET route answered
// 405; it answers as GET does, headers only, on objects and the other
// routes alike.
func TestPaths_HeadAnswersLikeGetWithoutABody(t *testing.T) {
	t.Parallel()
	srv := start(t, 0)
	c := srv.dial(t)
	if a := c.do(t, "POST", "/counter/h/increment"); a.status != 200 {
		t.Fatalf("increment: %d %s", a.status, a.body)
	}
	for _, path := range []string{"/counter/h", "/counter/h/", "/metrics", "/workflows/order/instances", "/"} {
		get := c.do(t, "GET", path)
		head := c.do(t, "HEAD", path) // read with no body: a body sent would break the next answer
		if get.status != 200 || head.status != 200 || head.header.Get("Content-Type") != get.header.Get("Content-Type") {
			t.Fatalf("%s: GET %d (%s), HEAD %d (%s); want 200 with the same Content-Type",
				path, get.status, get.header.Get("Content-Type"), head.status, head.header.Get("Content-Type"))
		}
	}
	if a := c.do(t, "GET", "/counter/h"); a.status != 200 || a.body != "{\"value\":1}\n" {
		t.Fatalf("GET after the HEADs: %d %q, want the counter at 1", a.status, a.body)
	}
}
