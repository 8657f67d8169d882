package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/roost-dev/roost/internal/errcode"
)

// RPCPrefix is the rest of an object path under which a class with RPC
// methods takes calls over HTTP: POST /{class}/{name}/rpc/{method} (or
// /{class}/id/{hexid}/rpc/{method}) calls method with the request body as
// its JSON request and answers 200 with its JSON response. A class with
// methods reserves every path under it (a path that names no method of the
// class gets 404 unknown_method); a class without methods leaves those
// paths to its objects' Fetch.
const RPCPrefix = "/rpc/"

// rpcMethod returns the method an object path's rest names and whether the
// rest is under [RPCPrefix]. The method is percent-decoded; a rest with
// more segments names no method, and is returned whole.
func rpcMethod(rest string) (string, bool) {
	m, ok := strings.CutPrefix(rest, RPCPrefix)
	if !ok {
		return "", false
	}
	if u, err := url.PathUnescape(m); err == nil && !strings.Contains(m, "/") {
		m = u
	}
	return m, true
}

// serveRPC serves an RPC call over HTTP: the body, read in full under the
// same limits as any object request's, is the method's JSON request (an
// empty body is null: the zero request); the answer is its JSON response,
// or the error the call failed with, with its code and status as for any
// object request.
func (g *Gateway) serveRPC(w http.ResponseWriter, r *http.Request, rt Route, method string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		WriteError(w, errcode.New(errcode.MethodNotAllowed, "RPC method %s of class %s: %s, want POST with a JSON body",
			quote(method), rt.Class, r.Method))
		return
	}
	body, err := g.readBody(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	if len(body) == 0 {
		body = []byte("null")
	}
	reply, err := g.objects.Call(r.Context(), rt.Class, rt.ID, rt.Name, method, body)
	if err != nil {
		if code := errcode.Of(err); code == errcode.Internal || code == "" {
			g.logger.LogAttrs(context.Background(), slog.LevelError, "RPC call over HTTP failed",
				slog.String("class", rt.Class), slog.String("id", rt.ID.String()), slog.String("method", method), slog.Any("err", err))
		}
		WriteError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(ObjectIDHeader, rt.ID.String())
	w.WriteHeader(http.StatusOK)
	w.Write(reply) // the client may be gone; nothing to do about it
}
