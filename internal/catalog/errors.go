package catalog

import (
	"errors"
	"syscall"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/roost-dev/roost/internal/errcode"
)

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

// storageError gives a full or failing disk its code, so that callers
// answer storage_full (507) or storage_failed rather than an internal
// error: the operator must learn that the disk is full (issue 12).
func storageError(err error) error {
	var se sqlite3.Error
	full := errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrFull:
			full = true
		case sqlite3.ErrIoErr, sqlite3.ErrCantOpen:
			return &errcode.Error{Code: errcode.StorageFailed, Message: "storage failed: the inventory (catalog.db): " + err.Error(), Err: err}
		}
	}
	if full {
		return &errcode.Error{Code: errcode.StorageFull, Message: "storage full: the disk has no space left for the inventory (catalog.db); remove objects (roost objects rm) or free space", Err: err}
	}
	return err
}
