package gateway

import (
	"strings"

	"github.com/roost-dev/roost/internal/errcode"
)

// CheckPath rejects an escaped request path that would be rewritten into
// another path on the way: one with a "." or ".." segment. Roost never
// resolves such segments: http.ServeMux would redirect
// /counter/x/../../_roost/objects to /_roost/objects, taking an object path
// into another route (issue 12), and clients and proxies resolve them before
// the server sees them anyway. The error has code bad_request.
//
// A percent-encoded dot (%2E) is data, as %2F is in an object name: the
// segment %2E%2E names the object "..", which is how the admin client
// reaches it. (Browsers resolve %2e%2e segments too, so reach such an
// object by its ID from a page.)
func CheckPath(escapedPath string) error {
	for p := escapedPath; p != ""; {
		var seg string
		seg, p, _ = strings.Cut(p, "/")
		if seg == "." || seg == ".." {
			return errcode.New(errcode.BadRequest, "path %s has a %q segment; Roost does not resolve dot segments: send the path without them", quote(escapedPath), seg)
		}
	}
	return nil
}

// checkMounted rejects a path with an empty segment (//) that a mounted
// handler matches: http.ServeMux would answer it with a redirect to the
// cleaned path. Object paths keep theirs: the rest of an object's path is
// the object's, byte for byte.
func checkMounted(escapedPath string) error {
	if strings.Contains(escapedPath, "//") {
		return errcode.New(errcode.BadRequest, "path %s has an empty segment (//); send the path without it", quote(escapedPath))
	}
	return nil
}
