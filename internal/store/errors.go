package store

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/ncruces/go-sqlite3"

	"github.com/roost-dev/roost/internal/errcode"
)

// LimitError reports a key, value or database over its configured limit.
type LimitError struct {
	// Limit names the limit: "key size", "value size" or "database size".
	Limit string
	// Max is the limit in bytes; Got is what was asked for, or 0 if unknown.
	Max, Got int64
}

func (e *LimitError) Error() string {
	if e.Got > 0 {
		return fmt.Sprintf("%s limit exceeded: %d bytes, the maximum is %d", e.Limit, e.Got, e.Max)
	}
	return fmt.Sprintf("%s limit exceeded: the maximum is %d bytes", e.Limit, e.Max)
}

// ErrorCode is "limit_exceeded".
func (e *LimitError) ErrorCode() string { return string(errcode.LimitExceeded) }

// translate gives SQLite's errors Roost's codes. The SQLite error stays in the
// chain for errors.Is and errors.As.
func translate(err error, cfg Config) error {
	var se *sqlite3.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.FULL:
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return &errcode.Error{Code: errcode.StorageFull, Message: "storage full: the disk has no space left; nothing of this event was committed", Err: err}
		}
		return errors.Join(&LimitError{Limit: "database size", Max: cfg.MaxDatabaseSize}, err)
	case sqlite3.TOOBIG:
		return errors.Join(&LimitError{Limit: "value size", Max: int64(cfg.MaxValueSize)}, err)
	case sqlite3.AUTH:
		return &errcode.Error{Code: errcode.SQLNotAuthorized, Message: "sql not authorized: " + se.Error(), Err: err}
	case sqlite3.IOERR, sqlite3.CORRUPT, sqlite3.NOTADB, sqlite3.CANTOPEN, sqlite3.NOMEM:
		return &errcode.Error{Code: errcode.StorageFailed, Message: "storage failed: " + se.Error(), Err: err}
	case sqlite3.BUSY, sqlite3.LOCKED:
		return &errcode.Error{Code: errcode.StorageFailed, Message: "storage failed: the database is locked by another process (is a second server using the same data directory?)", Err: err}
	case sqlite3.INTERRUPT:
		return err
	}
	return &errcode.Error{Code: errcode.SQLError, Message: se.Error(), Err: err}
}
