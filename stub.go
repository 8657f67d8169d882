package roost

import (
	"context"
	"net/http"

	"github.com/roost-dev/roost/internal/node"
)

// Stub sends events to one object. It is cheap; make one per use or keep it.
// Any Go code can use it, including another object's handler.
type Stub struct {
	ns   *Namespace
	id   ID
	name string
}

// ID returns the object's ID.
func (s *Stub) ID() ID { return s.id }

// Fetch delivers req to the object as an HTTP event and returns the response
// once the event's writes are durable (the output gate): a response is never
// seen for writes that could still be lost. The object sees req.URL as given
// (the gateway strips /{class}/{name} first). ctx bounds the wait; an event
// still queued when it ends never runs. A HEAD request reaches the object as
// a GET, and its response has the GET's headers and no body.
//
// Errors: ErrUnknownClass, ErrOverloaded, ErrShuttingDown, a handler's error
// or panic (codes handler_error, handler_panic), a commit failure (codes
// storage_full, storage_failed), ctx's error. The error's code is in
// [ErrorCode].
func (s *Stub) Fetch(ctx context.Context, req *http.Request) (*http.Response, error) {
	return s.ns.app.n.Fetch(ctx, s.ref(), req)
}

func (s *Stub) ref() node.Ref { return node.Ref{Class: s.ns.class, ID: s.id, Name: s.name} }

// call delivers a call in the form it has on the wire: the method's name and
// its JSON request, answered by the JSON response once the event's writes
// are durable, or by an error.
func (s *Stub) call(ctx context.Context, method string, payload []byte) ([]byte, error) {
	return s.ns.app.n.Call(ctx, s.ref(), method, payload)
}
