package catalog

import (
	"errors"

	"github.com/roost-dev/roost/internal/errcode"
)

var (
	// ErrBadCursor is wrapped by the errors of [Catalog.List] for a cursor
	// that it did not make, or that was made for another sort or class.
	ErrBadCursor = errors.New("bad cursor")
	// ErrBadOptions is wrapped by the errors for an unknown [Sort], a
	// negative limit, and other invalid arguments.
	ErrBadOptions = errors.New("bad options")
	// ErrClosed is returned by calls that need the writer after
	// [Catalog.Close].
	ErrClosed = errors.New("catalog closed")
)

func init() {
	errcode.Register(ErrBadCursor, errcode.BadRequest)
	errcode.Register(ErrBadOptions, errcode.BadRequest)
	errcode.Register(ErrClosed, errcode.ShuttingDown)
}
