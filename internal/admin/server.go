package admin

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/gateway"
)

// Objects is what the admin API operates on (internal/node implements
// it). Every method that names an object runs in the object's turn, after
// its earlier events committed. An unregistered class fails with code
// unknown_class; an object without storage, where storage is needed, with
// not_found.
type Objects interface {
	// List returns a page of the node's objects.
	List(ctx context.Context, o ListOptions) (Page, error)
	// Inspect returns what the object stores.
	Inspect(ctx context.Context, ref Ref, o InspectOptions) (*Inspection, error)
	// SQL runs q on the object's database and hands the rows of its last
	// statement to out as the statement produces them; it returns the
	// number of rows the statements changed.
	SQL(ctx context.Context, ref Ref, q Query, out RowWriter) (int64, error)
	// Export writes a consistent copy of the object's database, a SQLite
	// file, to w.
	Export(ctx context.Context, ref Ref, w io.Writer) error
	// Import replaces the object's database with the SQLite file read from
	// r; unless force is set, it fails with code conflict if the object
	// holds data.
	Import(ctx context.Context, ref Ref, r io.Reader, force bool) error
	// Remove deletes everything the object stores.
	Remove(ctx context.Context, ref Ref) error
}

// Prefix is where the app mounts the [Server].
const Prefix = "/_roost/"

// objectsPath is the root of the object routes.
const objectsPath = "/_roost/objects"

// classesPath describes the registered classes and their RPC methods.
const classesPath = "/_roost/classes"

// maxQueryBody bounds a SQL request: the statement and its arguments, each
// of which is at most the storage's value limit (2 MiB by default).
const maxQueryBody = 16 << 20

// Config configures a [Server].
type Config struct {
	// Objects is what the API operates on. Required.
	Objects Objects
	// Token, if set, is the bearer token every caller must send. If empty,
	// only loopback callers are served.
	Token string
	// Logger receives internal errors. Defaults to slog.Default().
	Logger *slog.Logger
	// MaxResultBytes bounds the rows of an SQL answer, as JSON: the rows
	// past it are left out and the answer says truncated_by "max_bytes".
	// Defaults to DefaultMaxResultBytes.
	MaxResultBytes int64
	// WriteStall bounds each write of an SQL answer to the client, which
	// happens in the object's turn: a client that stops reading fails its
	// answer instead of holding the object. Zero means none; the node sets
	// its SQL timeout.
	WriteStall time.Duration
	// Cluster, in cluster mode, serves the cluster routes; nil answers them
	// not_found.
	Cluster Cluster
	// Classes returns the registered classes, sorted by name, for GET
	// /_roost/classes. Nil answers an empty list.
	Classes func() []Class
}

// Server is the admin API's HTTP handler; mount it at [Prefix]. It is safe
// for concurrent use.
type Server struct {
	objects    Objects
	tokenSum   []byte // SHA-256 of the token; nil without one
	log        *slog.Logger
	maxResult  int64
	writeStall time.Duration
	// clusterAdmin serves the cluster routes; nil on a single node.
	clusterAdmin Cluster
	classes      func() []Class
}

// New returns the API's handler for cfg. It panics if cfg.Objects is nil:
// that is a programmer mistake.
func New(cfg Config) *Server {
	if cfg.Objects == nil {
		panic("admin: Config.Objects is required")
	}
	s := &Server{objects: cfg.Objects, log: cfg.Logger, maxResult: cfg.MaxResultBytes, writeStall: cfg.WriteStall,
		clusterAdmin: cfg.Cluster, classes: cfg.Classes}
	if s.log == nil {
		s.log = slog.Default()
	}
	if cfg.Token != "" {
		sum := sha256.Sum256([]byte(cfg.Token))
		s.tokenSum = sum[:]
	}
	return s
}

// ServeHTTP authorizes r, then routes it: see the package documentation.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.authorize(r); err != nil {
		if errcode.Of(err) == errcode.Unauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="roost admin"`)
		}
		gateway.WriteError(w, err)
		return
	}
	p := r.URL.EscapedPath()
	switch {
	case p == objectsPath || p == objectsPath+"/":
		if allowed(w, r, http.MethodGet) {
			s.list(w, r)
		}
	case strings.HasPrefix(p, objectsPath+"/"):
		s.object(w, r, p[len(objectsPath):])
	case p == classesPath:
		if allowed(w, r, http.MethodGet) {
			s.listClasses(w, r)
		}
	case p == clusterPath || strings.HasPrefix(p, clusterPath+"/"):
		s.cluster(w, r, p[len(clusterPath):])
	default:
		gateway.WriteError(w, errcode.New(errcode.NotFound, "no admin route %s; objects are at %s", quote(p), objectsPath))
	}
}

// object serves the routes of one object: path is /{class}/{name}/op or
// /{class}/id/{hexid}/op.
func (s *Server) object(w http.ResponseWriter, r *http.Request, path string) {
	rt, err := gateway.ParseRoute(path)
	if err != nil {
		gateway.WriteError(w, err)
		return
	}
	ref := Ref{Class: rt.Class, ID: rt.ID, Name: rt.Name}
	switch rt.Rest {
	case "/":
		if allowed(w, r, http.MethodGet, http.MethodDelete) {
			if r.Method == http.MethodDelete {
				s.remove(w, r, ref)
			} else {
				s.inspect(w, r, ref)
			}
		}
	case "/sql":
		if allowed(w, r, http.MethodPost) {
			s.sql(w, r, ref)
		}
	case "/export":
		if allowed(w, r, http.MethodGet) {
			s.export(w, r, ref)
		}
	case "/import":
		if allowed(w, r, http.MethodPut) {
			s.importDB(w, r, ref)
		}
	default:
		gateway.WriteError(w, errcode.New(errcode.NotFound, "no admin operation %s on an object; use /, /sql, /export or /import", quote(rt.Rest)))
	}
}

// allowed reports whether r's method is one of methods (HEAD counts as
// GET), and answers 405 if it is not.
func allowed(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	gateway.WriteError(w, errcode.New(errcode.MethodNotAllowed, "method %s not allowed here; use %s", r.Method, strings.Join(methods, " or ")))
	return false
}

func (s *Server) listClasses(w http.ResponseWriter, r *http.Request) {
	list := ClassList{Classes: []Class{}}
	if s.classes != nil {
		list.Classes = append(list.Classes, s.classes()...)
	}
	s.answer(w, r, list, nil)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	o := ListOptions{Class: q.Get("class"), Sort: q.Get("sort"), Cursor: q.Get("cursor")}
	var err error
	if o.Limit, err = intParam(q, "limit"); err == nil {
		o.Stale, err = boolParam(q, "stale")
	}
	if err != nil {
		gateway.WriteError(w, err)
		return
	}
	page, err := s.objects.List(r.Context(), o)
	s.answer(w, r, page, err)
}

func (s *Server) inspect(w http.ResponseWriter, r *http.Request, ref Ref) {
	q := r.URL.Query()
	o := InspectOptions{Prefix: q.Get("prefix"), Start: q.Get("start"), Cursor: q.Get("cursor")}
	var err error
	if o.KeysOnly, err = boolParam(q, "keys_only"); err == nil {
		if o.Limit, err = intParam(q, "limit"); err == nil {
			o.ValueBytes, err = intParam(q, "value_bytes")
		}
	}
	if err != nil {
		gateway.WriteError(w, err)
		return
	}
	in, err := s.objects.Inspect(r.Context(), ref, o)
	s.answer(w, r, in, err)
}

func (s *Server) sql(w http.ResponseWriter, r *http.Request, ref Ref) {
	// A cross-site form can post text/plain but not JSON: requiring JSON
	// keeps browsers out (see the package documentation).
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		gateway.WriteError(w, errcode.New(errcode.BadRequest, "send the query as Content-Type: application/json"))
		return
	}
	var q Query
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxQueryBody))
	if err := dec.Decode(&q); err != nil {
		if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
			gateway.WriteError(w, errcode.New(errcode.BodyTooLarge, "the SQL request is over %d bytes", mbe.Limit))
			return
		}
		if errcode.Coded(err) { // request_timeout from the gateway
			gateway.WriteError(w, err)
			return
		}
		gateway.WriteError(w, errcode.New(errcode.BadRequest, "bad SQL request: %v; send {\"query\":\"…\",\"args\":[…],\"write\":false}", err))
		return
	}
	if strings.TrimSpace(q.Query) == "" {
		gateway.WriteError(w, errcode.New(errcode.BadRequest, "the SQL request has no query"))
		return
	}
	b, err := newBudget(q, s.maxResult)
	if err != nil {
		gateway.WriteError(w, err)
		return
	}
	out := newSQLAnswer(w, b, q.Write, s.writeStall)
	n, err := s.objects.SQL(r.Context(), ref, q, out)
	if err := out.finish(n, err); err != nil {
		s.fail(w, r, err)
	}
}

func (s *Server) export(w http.ResponseWriter, r *http.Request, ref Ref) {
	out := &lazyWriter{w: w, header: func(h http.Header) {
		h.Set("Content-Type", "application/vnd.sqlite3")
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.sqlite"`, ref.Class, ref.ID.String()[:12]))
		h.Set("X-Content-Type-Options", "nosniff")
	}}
	err := s.objects.Export(r.Context(), ref, out)
	switch {
	case err != nil && !out.started:
		s.fail(w, r, err)
	case err != nil:
		// The status is out: all the client can learn is that the body is
		// cut. Abort the response so that it cannot take it for whole.
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "admin: export cut short",
			slog.String("object", ref.String()), slog.Any("err", err))
		panic(http.ErrAbortHandler)
	case !out.started:
		out.start()
	}
}

func (s *Server) importDB(w http.ResponseWriter, r *http.Request, ref Ref) {
	force, err := boolParam(r.URL.Query(), "force")
	if err != nil {
		gateway.WriteError(w, err)
		return
	}
	// A database file may be large: it goes to disk as it arrives, so the
	// upload may take any time as long as it keeps arriving.
	gateway.StreamBody(r)
	if err := s.objects.Import(r.Context(), ref, r.Body, force); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request, ref Ref) {
	if err := s.objects.Remove(r.Context(), ref); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// answer writes v as JSON, or err.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n')) // the client may be gone; nothing to do about it
}

// fail writes err, logging it first if the client is told only "internal
// error".
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errcode.Of(err) == errcode.Internal {
		s.log.LogAttrs(r.Context(), slog.LevelError, "admin request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	gateway.WriteError(w, err)
}

// lazyWriter sends the header of a successful answer with its first byte,
// so that a failure before it can still be answered with an error.
type lazyWriter struct {
	w       http.ResponseWriter
	header  func(http.Header)
	started bool
}

func (l *lazyWriter) start() {
	l.started = true
	l.header(l.w.Header())
	l.w.WriteHeader(http.StatusOK)
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.start()
	}
	return l.w.Write(p)
}

func intParam(q url.Values, name string) (int, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errcode.New(errcode.BadRequest, "parameter %s=%s: want an integer", name, quote(v))
	}
	return n, nil
}

func boolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errcode.New(errcode.BadRequest, "parameter %s=%s: want true or false", name, quote(v))
	}
	return b, nil
}

// maxQuote bounds how much of a rejected input an error repeats.
const maxQuote = 80

func quote(s string) string {
	if len(s) <= maxQuote {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:maxQuote]) + "..."
}
