package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/errcode"
)

// Prefix is where [Engine.Handler] serves the HTTP API.
const Prefix = "/workflows/"

// MaxWait bounds the wait of a status request (?wait=).
const MaxWait = 5 * time.Minute

// defaultWait is the wait of ?wait=true.
const defaultWait = 30 * time.Second

// Handler returns the HTTP API, to mount at [Prefix] (roost serve does):
//
//	POST /workflows/{name}/instances                 {"id":"optional","params":{...}} → 201, or 200 for an existing ID
//	GET  /workflows/{name}/instances?status=&cursor=&limit=
//	GET  /workflows/{name}/instances/{id}?wait=30s   answers when the instance finished, or the wait ended
//	POST /workflows/{name}/instances/{id}/events/{type}   the body is the payload (JSON)
//	POST /workflows/{name}/instances/{id}/pause|resume|terminate|restart
//	POST /workflows/{name}/purge?older_than=24h&status=  → {"purged":N} (or before=RFC 3339 time)
//
// Bodies and answers are JSON; errors are {"error":{"code","message"}}.
func (e *Engine) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /workflows/{name}/instances", e.serveCreate)
	mux.HandleFunc("GET /workflows/{name}/instances", e.serveList)
	mux.HandleFunc("GET /workflows/{name}/instances/{id}", e.serveStatus)
	mux.HandleFunc("POST /workflows/{name}/instances/{id}/events/{type}", e.serveEvent)
	mux.HandleFunc("POST /workflows/{name}/instances/{id}/{op}", e.serveControl)
	mux.HandleFunc("POST /workflows/{name}/purge", e.servePurge)
	mux.HandleFunc("/workflows/", func(w http.ResponseWriter, r *http.Request) {
		roost.WriteError(w, errcode.New(errcode.NotFound, "no workflow API route %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func (e *Engine) instance(r *http.Request) (*Instance, error) {
	d, err := e.definition(r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if err := checkID(id); err != nil {
		return nil, err
	}
	return &Instance{def: d, id: id}, nil
}

// readBody reads a JSON body of at most limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	switch {
	case err != nil && errcode.Coded(err): // request_timeout from the gateway
		return nil, err
	case err != nil:
		return nil, errcode.New(errcode.BadRequest, "read the body: %v", err)
	case int64(len(b)) > limit:
		return nil, errcode.New(errcode.BodyTooLarge, "body over %d bytes", limit)
	case len(b) > 0 && !json.Valid(b):
		return nil, errcode.New(errcode.BadRequest, "the body is not JSON")
	}
	return b, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (e *Engine) serveCreate(w http.ResponseWriter, r *http.Request) {
	d, err := e.definition(r.PathValue("name"))
	if err != nil {
		roost.WriteError(w, err)
		return
	}
	b, err := readBody(r, MaxPayloadBytes+4096)
	if err != nil {
		roost.WriteError(w, err)
		return
	}
	var req struct {
		ID     string          `json:"id"`
		Params json.RawMessage `json:"params"`
	}
	if len(b) > 0 {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			roost.WriteError(w, errcode.New(errcode.BadRequest, `want {"id":"optional","params":...}: %v`, err))
			return
		}
	}
	inst, created, err := d.create(r.Context(), req.ID, req.Params)
	if err != nil {
		roost.WriteError(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	if r.URL.Query().Has("wait") { // create, then answer like a status request that waits
		e.answerStatus(w, r, inst, status)
		return
	}
	writeJSON(w, status, map[string]string{"id": inst.id, "workflow": d.name})
}

func (e *Engine) serveStatus(w http.ResponseWriter, r *http.Request) {
	inst, err := e.instance(r)
	if err != nil {
		roost.WriteError(w, err)
		return
	}
	e.answerStatus(w, r, inst, http.StatusOK)
}

// answerStatus answers the instance's status, after waiting for its end if
// the request asks to (?wait=30s, or ?wait=true for 30 s).
func (e *Engine) answerStatus(w http.ResponseWriter, r *http.Request, inst *Instance, code int) {
	wait, err := parseWait(r.URL.Query().Get("wait"))
	if err != nil {
		roost.WriteError(w, err)
		return
	}
	var st *Status
	if wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		st, err = inst.Wait(ctx)
		if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil || errors.Is(err, roost.ErrShuttingDown) {
			// The wait ended first, or the server is stopping: answer the
			// status as it is (read again if the wait ended while reading
			// it).
			st, err = inst.Status(r.Context())
		}
	} else {
		st, err = inst.Status(r.Context())
	}
	if err != nil {
		roost.WriteError(w, err)
		return
	}
	writeJSON(w, code, st)
}

func parseWait(s string) (time.Duration, error) {
	switch s {
	case "", "false", "0":
		return 0, nil
	case "true":
		return defaultWait, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if n, nErr := strconv.Atoi(s); nErr == nil { // plain seconds
			d, err = time.Duration(n)*time.Second, nil
		}
	}
	if err != nil || d < 0 || d > MaxWait {
		return 0, errcode.New(errcode.BadRequest, "wait %q: want true, seconds or a duration up to %s", s, MaxWait)
	}
	return d, nil
}

func (e *Engine) serveList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := ListOptions{Status: q.Get("status"), Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			roost.WriteError(w, errcode.New(errcode.BadRequest, "limit %q is not a number", l))
			return
		}
		opts.Limit = n
	}
	page, err := e.List(r.Context(), r.PathValue("name"), opts)
	if err != nil {
		roost.WriteError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (e *Engine) serveEvent(w http.ResponseWriter, r *http.Request) {
	inst, err := e.instance(r)
	if err != nil {
		roost.WriteError(w, err)
		return
	}
	b, err := readBody(r, MaxPayloadBytes)
	if err != nil {
		roost.WriteError(w, err)
		return
	}
	if err := inst.sendEvent(r.Context(), r.PathValue("type"), b); err != nil {
		roost.WriteError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": inst.id, "event": r.PathValue("type")})
}

func (e *Engine) serveControl(w http.ResponseWriter, r *http.Request) {
	inst, err := e.instance(r)
	if err != nil {
		roost.WriteError(w, err)
		return
	}
	ops := map[string]func(*Instance, context.Context) error{
		"pause": (*Instance).Pause, "resume": (*Instance).Resume,
		"terminate": (*Instance).Terminate, "restart": (*Instance).Restart,
	}
	op, ok := ops[r.PathValue("op")]
	if !ok {
		roost.WriteError(w, errcode.New(errcode.NotFound, "no instance operation %q (pause, resume, terminate, restart)", r.PathValue("op")))
		return
	}
	if err := op(inst, r.Context()); err != nil {
		roost.WriteError(w, err)
		return
	}
	e.answerStatus(w, r, inst, http.StatusOK)
}

// servePurge purges the finished instances of a workflow that ended before
// ?before= (an RFC 3339 time) or longer than ?older_than= (a duration)
// ago; with neither, every finished instance. ?status= takes one final
// status only.
func (e *Engine) servePurge(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opts := PurgeOptions{Status: q.Get("status")}
	before, olderThan := q.Get("before"), q.Get("older_than")
	switch {
	case before != "" && olderThan != "":
		roost.WriteError(w, errcode.New(errcode.BadRequest, "give before or older_than, not both"))
		return
	case before != "":
		t, err := time.Parse(time.RFC3339Nano, before)
		if err != nil {
			roost.WriteError(w, errcode.New(errcode.BadRequest, "before %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", before))
			return
		}
		opts.Before = t
	case olderThan != "":
		d, err := time.ParseDuration(olderThan)
		if err != nil || d < 0 {
			roost.WriteError(w, errcode.New(errcode.BadRequest, "older_than %q: want a duration such as 720h", olderThan))
			return
		}
		opts.Before = e.clock.Now().Add(-d)
	}
	n, err := e.Purge(r.Context(), r.PathValue("name"), opts)
	if err != nil {
		roost.WriteError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"purged": n})
}
