package errcode

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Code is a stable, snake_case error code. Codes are part of Roost's API:
// once published, a code keeps its meaning.
type Code string

// The codes Roost answers with, and the HTTP status each one maps to.
const (
	BadRequest       Code = "bad_request"        // 400: malformed input not covered below
	InvalidID        Code = "invalid_id"         // 400: an object ID that is not 64 lowercase hex characters
	InvalidClass     Code = "invalid_class"      // 400: a class name that breaks the naming rules
	UnknownClass     Code = "unknown_class"      // 404: no class of that name is registered
	NotFound         Code = "not_found"          // 404: no such route or resource
	UnknownMethod    Code = "unknown_method"     // 404: the object's class has no RPC method of that name
	Unauthorized     Code = "unauthorized"       // 401: the admin API needs a token and got none or a wrong one
	Forbidden        Code = "forbidden"          // 403: the admin API refuses callers from other hosts when no token is set
	ReadOnly         Code = "read_only"          // 403: a write through a read-only path (admin SQL without --write)
	Conflict         Code = "conflict"           // 409: the target already holds data (import without force)
	UpgradeRequired  Code = "upgrade_required"   // 426: the route takes WebSocket upgrades only
	MethodNotAllowed Code = "method_not_allowed" // 405
	BodyTooLarge     Code = "body_too_large"     // 413: a request body over the configured limit
	RequestTimeout   Code = "request_timeout"    // 408: the client did not send its request body in time
	LimitExceeded    Code = "limit_exceeded"     // 413: a key, value or database over its limit
	SQLNotAuthorized Code = "sql_not_authorized" // 403: SQL that touches other files, engine settings or internal tables
	SQLError         Code = "sql_error"          // 400: SQL that SQLite rejected (syntax, constraint, missing table)
	NotImplemented   Code = "not_implemented"    // 501: the object does not handle this kind of event
	HandlerError     Code = "handler_error"      // 500: the handler returned an error; its writes were rolled back
	HandlerPanic     Code = "handler_panic"      // 500: the handler panicked; its writes were rolled back
	InitFailed       Code = "init_failed"        // 500: the constructor or BlockConcurrencyWhile failed
	StorageFull      Code = "storage_full"       // 507: the disk is full; the event's writes were not committed
	StorageFailed    Code = "storage_failed"     // 500: the disk failed (I/O or fsync error); the event's writes were not committed
	ObjectReset      Code = "object_reset"       // 503: the instance was reset while the call waited; retry
	CallCycle        Code = "call_cycle"         // 508: a call chain came back to an object already in it
	Overloaded       Code = "overloaded"         // 503: too many pending events for the object; retry later
	ShuttingDown     Code = "shutting_down"      // 503: the server is closing
	Timeout          Code = "timeout"            // 504: the deadline passed before the event finished
	Canceled         Code = "canceled"           // 499: the caller went away
	Internal         Code = "internal"           // 500: a bug in Roost; the message says more
	UnknownWorkflow  Code = "unknown_workflow"   // 404: no workflow of that name is defined
	UnknownInstance  Code = "unknown_instance"   // 404: the workflow has no instance of that ID
	InvalidState     Code = "invalid_state"      // 409: the instance's status does not allow the operation
	Nondeterminism   Code = "nondeterminism"     // 500: a workflow's replay asked for other steps than its journal holds
	NotOwner         Code = "not_owner"          // 503: cluster: the object is moving between nodes or its owner is unknown now; retry
	NoQuorum         Code = "no_quorum"          // 503: cluster: this node cannot reach a quorum or lost its lease while it committed; the write's outcome is unknown
	Corrupt          Code = "corrupt"            // 500: cluster: the object's replicated log does not verify; the object is refused
)

var statuses = map[Code]int{
	BadRequest:       http.StatusBadRequest,
	UnknownWorkflow:  http.StatusNotFound,
	UnknownInstance:  http.StatusNotFound,
	InvalidState:     http.StatusConflict,
	Nondeterminism:   http.StatusInternalServerError,
	InvalidID:        http.StatusBadRequest,
	InvalidClass:     http.StatusBadRequest,
	UnknownClass:     http.StatusNotFound,
	NotFound:         http.StatusNotFound,
	UnknownMethod:    http.StatusNotFound,
	Unauthorized:     http.StatusUnauthorized,
	Forbidden:        http.StatusForbidden,
	ReadOnly:         http.StatusForbidden,
	Conflict:         http.StatusConflict,
	UpgradeRequired:  http.StatusUpgradeRequired,
	MethodNotAllowed: http.StatusMethodNotAllowed,
	BodyTooLarge:     http.StatusRequestEntityTooLarge,
	RequestTimeout:   http.StatusRequestTimeout,
	LimitExceeded:    http.StatusRequestEntityTooLarge,
	SQLNotAuthorized: http.StatusForbidden,
	SQLError:         http.StatusBadRequest,
	NotImplemented:   http.StatusNotImplemented,
	HandlerError:     http.StatusInternalServerError,
	HandlerPanic:     http.StatusInternalServerError,
	InitFailed:       http.StatusInternalServerError,
	StorageFull:      http.StatusInsufficientStorage,
	StorageFailed:    http.StatusInternalServerError,
	ObjectReset:      http.StatusServiceUnavailable,
	CallCycle:        http.StatusLoopDetected,
	Overloaded:       http.StatusServiceUnavailable,
	ShuttingDown:     http.StatusServiceUnavailable,
	Timeout:          http.StatusGatewayTimeout,
	Canceled:         499,
	Internal:         http.StatusInternalServerError,
	NotOwner:         http.StatusServiceUnavailable,
	NoQuorum:         http.StatusServiceUnavailable,
	Corrupt:          http.StatusInternalServerError,
}

// Status is the HTTP status for code; unknown codes answer 500.
func Status(code Code) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is an error with a stable code. Its message is shown to clients, so it
// must not leak internals; Err, if set, is the cause kept for errors.Is/As.
type Error struct {
	Code    Code
	Message string
	Err     error
}

// New returns an *Error with code and a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with code whose message is err's and whose cause is err.
// It returns nil for a nil err.
func Wrap(code Code, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Message: err.Error(), Err: err}
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the stable code.
func (e *Error) ErrorCode() string { return string(e.Code) }

// coder is what an error implements to carry its own code: *Error does,
// and so do errors of packages that cannot import this one (the leaves'),
// through a method of their own.
type coder interface{ ErrorCode() string }

// Coded reports whether an error in err's chain carries a code.
func Coded(err error) bool {
	var c coder
	return errors.As(err, &c)
}

// Of returns the code of err: the first error in its chain that carries a
// code decides; context errors map to Timeout and Canceled; anything else is
// Internal. Of(nil) is "".
func Of(err error) Code {
	if err == nil {
		return ""
	}
	var c coder
	if errors.As(err, &c) {
		return Code(c.ErrorCode())
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	case errors.Is(err, context.Canceled):
		return Canceled
	}
	return Internal
}
