package roost

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/roost-dev/roost/internal/gateway"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/sockets"
	"github.com/roost-dev/roost/internal/store"
)

// FetchHandler is an optional interface for objects: like http.Handler, but
// an error return fails the event: its writes roll back, the instance is
// reset, and the caller gets the error's code (500 handler_error for an error
// without one). An object that implements it is called through Fetch instead
// of ServeHTTP.
type FetchHandler interface {
	Fetch(w http.ResponseWriter, r *http.Request) error
}

// WriteError writes err as Roost's JSON error, {"error":{"code":…,"message":…}},
// with the HTTP status of its code. Handlers use it to answer an error
// without failing the event (nothing rolls back).
func WriteError(w http.ResponseWriter, err error) { gateway.WriteError(w, err) }

// fetch runs an HTTP event. The handler writes into a buffer that is turned
// into a response only after the event's writes committed: the output gate.
func fetch(ctx context.Context, a *App, class string, id ids.ID, name string, req *http.Request) (*http.Response, error) {
	rec := newRecorder()
	err := a.rt.Deliver(ctx, &runtime.Event{Class: class, ID: id, Name: name, Kind: runtime.KindHTTP, Fn: func(ctx context.Context, inst any, _ *store.DB) error {
		r := req.WithContext(ctx)
		switch h := inst.(type) {
		case FetchHandler:
			return handlerError(h.Fetch(rec, r))
		case http.Handler:
			h.ServeHTTP(rec, r)
			return nil
		}
		return errNotHandler
	}})
	if err != nil {
		if rec.socket != nil {
			a.hub.Abort(rec.socket)
		}
		return nil, err
	}
	resp := rec.response(req)
	if rec.socket != nil {
		resp.Body = &upgradeBody{hub: a.hub, sock: rec.socket}
	}
	return resp, nil
}

// recorder is the ResponseWriter handed to objects: it buffers everything.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	// socket is the WebSocket the handler accepted (status 101).
	socket *sockets.Socket
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		if status < 100 || status > 999 {
			panic(fmt.Sprintf("roost: invalid WriteHeader code %d", status))
		}
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

func (r *recorder) response(req *http.Request) *http.Response {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	h := r.header.Clone()
	if h.Get("Content-Type") == "" && r.body.Len() > 0 {
		h.Set("Content-Type", http.DetectContentType(r.body.Bytes()))
	}
	h.Set("Content-Length", strconv.Itoa(r.body.Len()))
	return &http.Response{
		Status:        strconv.Itoa(r.status) + " " + http.StatusText(r.status),
		StatusCode:    r.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(&r.body),
		ContentLength: int64(r.body.Len()),
		Request:       req,
	}
}
