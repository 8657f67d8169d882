package roost

import (
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/node"
)

// Sentinel errors that callers branch on with errors.Is. Each has a stable
// code (see [ErrorCode]) that the HTTP gateway answers with.
var (
	// ErrInvalidID: a string that is not 64 lowercase hex characters.
	ErrInvalidID = ids.ErrInvalid
	// ErrInvalidClass: a class name that breaks the naming rules.
	ErrInvalidClass = ids.ErrInvalidClass
	// ErrUnknownClass: no class of that name is registered.
	ErrUnknownClass = node.ErrUnknownClass
	// ErrClosed: the object's storage was used after its instance was reset
	// or evicted (for example from a goroutine that outlived its event).
	// Code object_reset.
	ErrClosed = node.ErrClosed
	// ErrOverloaded: the object has too many pending events; retry later.
	ErrOverloaded = node.ErrOverloaded
	// ErrShuttingDown: the app is closing.
	ErrShuttingDown = node.ErrShuttingDown
)

// LimitError reports a key, value or database over its limit. Its code is
// "limit_exceeded".
type LimitError = node.LimitError

// Error is an error with a stable code that crosses the HTTP gateway and
// RPC intact. Return one from a handler to choose the code.
type Error = errcode.Error

// ErrorCode returns the stable code of err ("invalid_id", "limit_exceeded",
// "handler_panic", …), or "internal" for an error that has none.
func ErrorCode(err error) string { return string(errcode.Of(err)) }

// NewError returns an *Error with a code of the caller's choosing, for
// handlers: the gateway answers with the code's HTTP status (500 for a code
// it does not know).
func NewError(code, message string) *Error {
	return &errcode.Error{Code: errcode.Code(code), Message: message}
}
