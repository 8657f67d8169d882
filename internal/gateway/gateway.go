package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
)

// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 4 << 20

// ObjectIDHeader is set on every request the gateway forwards to an object,
// to the object's ID in hex. A value sent by the client is replaced.
const ObjectIDHeader = "X-Roost-Object-Id"

// Objects is what the gateway routes to (internal/node implements it).
type Objects interface {
	// HasClass reports whether a class of that name is registered.
	HasClass(class string) bool
	// Fetch delivers req to the object and returns its response; the response is
	// complete (the output gate already held it until the object's writes were durable).
	// name is the object's name, "" when it was addressed by ID.
	Fetch(ctx context.Context, class string, id ids.ID, name string, req *http.Request) (*http.Response, error)
	// HasMethods reports whether the class registered RPC methods: its
	// objects' paths under [RPCPrefix] are then RPC calls.
	HasMethods(class string) bool
	// Call calls the RPC method on the object with its JSON request and
	// returns its JSON response once the call's writes are durable.
	Call(ctx context.Context, class string, id ids.ID, name, method string, payload []byte) ([]byte, error)
}

// Config configures a [Gateway]. The zero value of each optional field means
// its documented default.
type Config struct {
	// Objects receives every request that no handler mounted with
	// [Gateway.Handle] matches. Required.
	Objects Objects
	// MaxBodyBytes is the largest request body the gateway reads. A request
	// over it gets 413 body_too_large and never reaches its object. Defaults
	// to 4 MiB; negative is an error.
	MaxBodyBytes int64
	// BodyTimeout bounds how long a client may take to send a request body,
	// from the end of its headers, on every route (mounted ones included;
	// see [StreamBody] for long uploads). Past it the read fails with
	// request_timeout (408) and the connection is closed. A request without
	// a body is not bound by it, so long polls and WebSockets are not.
	// Defaults to 60s; negative means no limit.
	BodyTimeout time.Duration
	// Logger receives internal errors, with the attributes class and id.
	// Defaults to slog.Default().
	Logger *slog.Logger
}

// Gateway is the HTTP front door of `roost serve`: it routes object paths to
// [Objects] and any other mounted pattern to its handler. It is safe for
// concurrent use.
type Gateway struct {
	objects     Objects
	maxBody     int64
	bodyTimeout time.Duration
	logger      *slog.Logger
	mux         *http.ServeMux
}

// New returns a gateway for cfg, or an error naming the first invalid field.
func New(cfg Config) (*Gateway, error) {
	if cfg.Objects == nil {
		return nil, errors.New("gateway config: Objects: required")
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("gateway config: MaxBodyBytes: must be ≥ 0, got %d", cfg.MaxBodyBytes)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.BodyTimeout == 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Gateway{objects: cfg.Objects, maxBody: cfg.MaxBodyBytes, bodyTimeout: cfg.BodyTimeout,
		logger: cfg.Logger, mux: http.NewServeMux()}, nil
}

// Handle mounts h on the gateway's mux for pattern, in the syntax of
// http.ServeMux (e.g. "GET /{$}" for a page, "/workflows/", "/metrics").
// A mounted pattern takes precedence over object routes; a request it does
// not match, including one that matches its path but not its method, goes to
// the objects. So DON'T mount "/", which would hide every object.
// Like http.ServeMux.Handle, it panics on an invalid or conflicting pattern.
// It is safe to call while the gateway serves.
func (g *Gateway) Handle(pattern string, h http.Handler) {
	g.mux.Handle(pattern, h)
}

// ServeHTTP routes r to a mounted handler if one matches, or else to its
// object (see [ParseRoute] for the paths). A path with a dot segment gets
// 400 bad_request on every route (see [CheckPath]), and so does a path with
// an empty segment that a mounted handler matches: no path is ever
// redirected to another. Every request body must arrive within
// Config.BodyTimeout. An object request's body is read in full, up to
// Config.MaxBodyBytes, before the object sees the request, so a slow client
// never holds the object's turn. Errors are written by [WriteError].
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if err := CheckPath(path); err != nil {
		WriteError(w, err)
		return
	}
	g.timeBody(w, r)
	// Ask the mux first rather than mounting objects at "/": the mux would
	// redirect a path it considers unclean (/counter/a//b), but object names
	// and the rest of the path belong to the object, byte for byte.
	if _, pattern := g.mux.Handler(r); pattern != "" {
		if err := checkMounted(path); err != nil {
			WriteError(w, err)
			return
		}
		g.mux.ServeHTTP(w, r)
		return
	}
	g.serveObject(w, r)
}

func (g *Gateway) serveObject(w http.ResponseWriter, r *http.Request) {
	rt, err := ParseRoute(r.URL.EscapedPath())
	if err != nil {
		WriteError(w, err)
		return
	}
	if !g.objects.HasClass(rt.Class) {
		WriteError(w, errcode.New(errcode.UnknownClass, "unknown class %s: no class of that name is registered", quote(rt.Class)))
		return
	}
	if method, ok := rpcMethod(rt.Rest); ok && g.objects.HasMethods(rt.Class) {
		g.serveRPC(w, r, rt, method)
		return
	}
	body, err := g.readBody(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	g.fetch(w, r, rt, forward(r, rt, body))
}

// ServeForwarded serves a request that another node of the cluster
// forwarded to this one, the object's owner: req is already in the form
// the object sees (see forward), addressed to class and id, and its body
// is read in full like any object request's.
func (g *Gateway) ServeForwarded(w http.ResponseWriter, r *http.Request, class string, id ids.ID, name string) {
	body, err := g.readBody(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	in := r.Clone(r.Context())
	in.Body = io.NopCloser(bytes.NewReader(body))
	in.ContentLength = int64(len(body))
	g.fetch(w, r, Route{Class: class, ID: id, Name: name, ByID: name == ""}, in)
}

// fetch delivers in to the object of rt and writes its response to w (r is
// the client's request, which a WebSocket upgrade takes over).
func (g *Gateway) fetch(w http.ResponseWriter, r *http.Request, rt Route, in *http.Request) {
	resp, err := checkResponse(g.objects.Fetch(r.Context(), rt.Class, rt.ID, rt.Name, in))
	if err != nil {
		g.writeError(w, rt, err)
		return
	}
	if u, ok := resp.Body.(Upgrader); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		if err := u.Upgrade(w, r); err != nil {
			g.logger.LogAttrs(context.Background(), slog.LevelDebug, "WebSocket upgrade failed",
				slog.String("class", rt.Class), slog.String("id", rt.ID.String()), slog.Any("err", err))
		}
		return
	}
	g.writeResponse(w, rt, resp)
}

// Upgrader is the body of a response with status 101 by which an object
// accepted a WebSocket: the gateway hands it the client's connection.
type Upgrader interface {
	// Upgrade completes the handshake on w (answering the client itself if
	// it fails) and serves the socket.
	Upgrade(w http.ResponseWriter, r *http.Request) error
}

// checkResponse turns a response the gateway cannot write into an internal
// error; a missing body becomes an empty one.
func checkResponse(resp *http.Response, err error) (*http.Response, error) {
	switch {
	case err != nil:
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return nil, err
	case resp == nil:
		return nil, errors.New("fetch returned neither a response nor an error")
	case resp.Body == nil:
		resp.Body = http.NoBody
	}
	if _, ok := resp.Body.(Upgrader); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		return resp, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 999 {
		resp.Body.Close()
		return nil, fmt.Errorf("object answered with status %d, want 200 to 999", resp.StatusCode)
	}
	return resp, nil
}

// forward returns the request the object sees: a clone of r whose path is the
// rest of the route, with the same query, and whose body is the one already
// read.
func forward(r *http.Request, rt Route, body []byte) *http.Request {
	fr := r.Clone(r.Context())
	fr.URL.Path, _ = url.PathUnescape(rt.Rest) // cannot fail: ParseRoute checked it
	fr.URL.RawPath = rt.Rest
	fr.RequestURI = fr.URL.RequestURI()
	fr.Body = io.NopCloser(bytes.NewReader(body))
	fr.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	fr.ContentLength = int64(len(body))
	fr.TransferEncoding = nil
	fr.Header.Set(ObjectIDHeader, rt.ID.String())
	return fr
}

// writeError answers with err, logging it first when its message is hidden
// from the client.
func (g *Gateway) writeError(w http.ResponseWriter, rt Route, err error) {
	if code := errcode.Of(err); code == errcode.Internal || code == "" {
		g.logger.LogAttrs(context.Background(), slog.LevelError, "object request failed",
			slog.String("class", rt.Class), slog.String("id", rt.ID.String()), slog.Any("err", err))
	}
	WriteError(w, err)
}

// writeResponse copies resp to w and closes its body.
func (g *Gateway) writeResponse(w http.ResponseWriter, rt Route, resp *http.Response) {
	defer resp.Body.Close()
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = append(h[k], vs...)
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		// The status is out, so the client can only see a cut body. Most often
		// it went away; log at debug so that is not noise.
		g.logger.LogAttrs(context.Background(), slog.LevelDebug, "copy object response",
			slog.String("class", rt.Class), slog.String("id", rt.ID.String()), slog.Any("err", err))
	}
}
