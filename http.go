package roost

import (
	"net/http"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/node"
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
func WriteError(w http.ResponseWriter, err error) { node.WriteError(w, err) }

var errNotHandler = &errcode.Error{Code: errcode.NotImplemented, Message: "the object does not handle HTTP requests (implement http.Handler or roost.FetchHandler)"}
