package catalog

import "github.com/roost-dev/roost/internal/errcode"

// The catalog's errors, each with its code.
var (
	// ErrBadCursor is wrapped by the errors of [Catalog.List] for a cursor
	// that it did not make, or that was made for another sort or class.
	ErrBadCursor = &errcode.Error{Code: errcode.BadRequest, Message: "bad cursor"}
	// ErrBadOptions is wrapped by the errors for an unknown [Sort], a
	// negative limit, and other invalid arguments.
	ErrBadOptions = &errcode.Error{Code: errcode.BadRequest, Message: "bad options"}
	// ErrClosed is returned by calls that need the writer after
	// [Catalog.Close]: the node is shutting down.
	ErrClosed = &errcode.Error{Code: errcode.ShuttingDown, Message: "catalog closed"}
)
