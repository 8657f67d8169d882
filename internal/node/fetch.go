package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/sockets"
	"github.com/roost-dev/roost/internal/store"
)

// Fetch delivers req to the object as an HTTP event and returns the
// response once the event's writes are durable: the handler writes into a
// buffer that becomes the response only after the commit (the output
// gate). A WebSocket the handler accepted comes as a 101 response whose
// body upgrades the client's connection (see the gateway).
//
// A HEAD request reaches the object as a GET, and its response has the
// GET's headers (Content-Length included) without the body, as RFC 9110
// §9.3.2 defines HEAD: so every class answers HEAD on its GET routes, as
// handlers on an http.ServeMux do, instead of 405 (issue 12).
func (n *Node) Fetch(ctx context.Context, ref Ref, req *http.Request) (*http.Response, error) {
	if remote, err := n.remote(ctx, ref); remote || err != nil {
		if err != nil {
			return nil, err
		}
		return n.cluster.Forward(ctx, ref.Class, ref.ID, ref.Name, req)
	}
	epoch := n.epoch(ref)
	head := req.Method == http.MethodHead
	in := headAsGet(req)
	rec := &recorder{header: http.Header{}}
	err := n.rt.Deliver(ctx, &runtime.Event{Class: ref.Class, ID: ref.ID, Name: ref.Name, Kind: runtime.KindHTTP,
		Fn: func(ctx context.Context, inst any, _ *store.DB) error {
			return HandlerError(n.handlers.ServeHTTP(ctx, inst, rec, in.WithContext(ctx)))
		}})
	if err == nil {
		err = n.stillOwner(ref, epoch)
	}
	if err != nil {
		if rec.socket != nil {
			n.hub.Abort(rec.socket)
		}
		return nil, err
	}
	resp := rec.response(req)
	switch {
	case rec.socket != nil:
		resp.Body = &upgradeBody{hub: n.hub, sock: rec.socket}
	case head:
		resp.Body = http.NoBody
	}
	return resp, nil
}

// headAsGet returns a HEAD request as the GET it stands for, and any other
// request as it is.
func headAsGet(req *http.Request) *http.Request {
	if req.Method != http.MethodHead {
		return req
	}
	get := *req
	get.Method = http.MethodGet
	return &get
}

// gatewayObjects is the node as the gateway sees it.
type gatewayObjects struct{ n *Node }

func (g gatewayObjects) HasClass(class string) bool { return g.n.HasClass(class) }

func (g gatewayObjects) Fetch(ctx context.Context, class string, id ids.ID, name string, req *http.Request) (*http.Response, error) {
	return g.n.Fetch(ctx, Ref{Class: class, ID: id, Name: name}, req)
}

func (g gatewayObjects) HasMethods(class string) bool {
	c, ok := g.n.class(class)
	return ok && c.Call != nil
}

func (g gatewayObjects) Call(ctx context.Context, class string, id ids.ID, name, method string, payload []byte) ([]byte, error) {
	return g.n.Call(ctx, Ref{Class: class, ID: id, Name: name}, method, payload)
}

// recorder is the ResponseWriter handed to objects: it buffers everything.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	// socket is the WebSocket the handler accepted (status 101).
	socket *sockets.Socket
}

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

// upgradeBody is the body of the 101 response of an accepted socket: the
// gateway hands it the client's connection. Closed without an upgrade (the
// response did not go through the gateway), it drops the socket.
type upgradeBody struct {
	hub  *sockets.Hub
	sock *sockets.Socket
	used bool
}

var errNoUpgrade = errcode.New(errcode.BadRequest, "a WebSocket upgrade has no body to read")

func (b *upgradeBody) Read([]byte) (int, error) { return 0, errNoUpgrade }

func (b *upgradeBody) Close() error {
	if !b.used {
		b.used = true
		b.hub.Abort(b.sock)
	}
	return nil
}

func (b *upgradeBody) Upgrade(w http.ResponseWriter, r *http.Request) error {
	b.used = true
	return b.hub.Upgrade(b.sock, w, r)
}
