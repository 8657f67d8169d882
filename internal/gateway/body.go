package gateway

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
)

// DefaultBodyTimeout is the body read timeout when Config.BodyTimeout is 0.
const DefaultBodyTimeout = 60 * time.Second

// timedBody is a request body read against a deadline on the client's
// connection: the whole body must arrive within the gateway's body timeout
// of the request's start, or, after [StreamBody], no read may wait longer
// than it. At the end of the body the deadline is cleared, so that what
// follows is not bound by it: net/http watches the connection while the
// handler runs and cancels the request's context when that read fails, which
// would cut off a long poll or a slow handler. A request without a body
// (a WebSocket upgrade, a long poll's GET) is never timed.
//
// Deadlines on connections are wall-clock times, so they come from
// time.Now, never from the app's (possibly virtual) clock.
type timedBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	stream  bool // renew the deadline on every read that receives bytes
}

// timeBody sets the body deadline of r's connection and wraps r.Body to
// clear it at the end. A ResponseWriter that cannot set deadlines (not a
// server's) leaves the body untimed.
func (g *Gateway) timeBody(w http.ResponseWriter, r *http.Request) {
	if g.bodyTimeout <= 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(g.bodyTimeout)) != nil {
		return
	}
	r.Body = &timedBody{ReadCloser: r.Body, rc: rc, timeout: g.bodyTimeout}
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case errors.Is(err, io.EOF):
		b.rc.SetReadDeadline(time.Time{}) // the body is in; nothing to do if the connection is gone
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = &errcode.Error{Code: errcode.RequestTimeout, Err: err,
			Message: "the request body did not arrive within " + b.timeout.String() + "; the connection is closed"}
	case n > 0 && b.stream:
		b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
	return n, err
}

// StreamBody lets r's body take any time in all, as long as it keeps
// arriving: from now on, each read that receives bytes renews the deadline
// by Config.BodyTimeout, so only a client that sends nothing for that long is
// cut off. Use it for uploads that go to disk as they arrive (the admin API's
// import, bounded by the database size limit), never for bodies kept in
// memory. It does nothing to a request whose body the gateway does not time.
func StreamBody(r *http.Request) {
	if b, ok := r.Body.(*timedBody); ok {
		b.stream = true
		b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
}

// readBody reads r's whole body, or fails with body_too_large once it passes
// the limit. A declared Content-Length over the limit fails before reading.
// The buffer grows with the bytes that arrive, never ahead of them by the
// declared length: a client that declares 4 MiB and sends one byte costs a
// few hundred bytes, not 4 MiB (issue 12).
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > g.maxBody {
		return nil, g.tooLarge(r.ContentLength)
	}
	if r.Body == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	// MaxBytesReader also tells the server to close the connection, rather
	// than drain the rest of an oversized body.
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, g.maxBody))
	if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, g.tooLarge(mbe.Limit + 1)
	}
	switch {
	case err == nil:
		return buf.Bytes(), nil
	case errcode.Coded(err): // request_timeout
		return nil, err
	}
	return nil, errcode.New(errcode.BadRequest, "read request body: %v", err)
}

func (g *Gateway) tooLarge(atLeast int64) error {
	return errcode.New(errcode.BodyTooLarge, "request body of at least %d bytes is over the limit of %d bytes", atLeast, g.maxBody)
}
