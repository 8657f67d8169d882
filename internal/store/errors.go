package store

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	sqlite3 "github.com/mattn/go-sqlite3"

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
// chain for errors.Is and errors.As. atSizeLimit tells the two kinds of
// SQLITE_FULL apart.
func translate(err error, cfg Config, atSizeLimit func() bool) error {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return osError(err)
	}
	switch se.Code {
	case sqlite3.ErrFull:
		if !atSizeLimit() {
			return &errcode.Error{Code: errcode.StorageFull, Message: "storage full: the disk has no space left; nothing of this event was committed", Err: err}
		}
		return errors.Join(&LimitError{Limit: "database size", Max: cfg.MaxDatabaseSize}, err)
	case sqlite3.ErrTooBig:
		return errors.Join(&LimitError{Limit: "value size", Max: int64(cfg.MaxValueSize)}, err)
	case sqlite3.ErrAuth:
		return &errcode.Error{Code: errcode.SQLNotAuthorized, Message: "sql not authorized: " + se.Error(), Err: err}
	case sqlite3.ErrIoErr, sqlite3.ErrCorrupt, sqlite3.ErrNotADB, sqlite3.ErrCantOpen, sqlite3.ErrNomem:
		return &errcode.Error{Code: errcode.StorageFailed, Message: "storage failed: " + se.Error(), Err: err}
	case sqlite3.ErrBusy, sqlite3.ErrLocked:
		return &errcode.Error{Code: errcode.StorageFailed, Message: "storage failed: the database is locked by another process (is a second server using the same data directory?)", Err: err}
	case sqlite3.ErrInterrupt:
		return err
	case sqlite3.ErrError:
		// A function the authorizer refused fails to prepare with a plain
		// SQLITE_ERROR, not SQLITE_AUTH, and so does a write to
		// sqlite_schema, which SQLITE_DBCONFIG_DEFENSIVE refuses. VACUUM
		// has no authorizer action: SQLite refuses it in a transaction
		// (where user SQL runs) before the ATTACH the authorizer would
		// refuse. Roost does neither: the errors are the user's.
		if notAuthorized(se.Error()) {
			return &errcode.Error{Code: errcode.SQLNotAuthorized, Message: "sql not authorized: " + se.Error(), Err: err}
		}
	}
	return &errcode.Error{Code: errcode.SQLError, Message: se.Error(), Err: err}
}

// osError gives the codes of a full or failing disk to the errors of Roost's
// own file operations (creating or deleting an object's file).
func osError(err error) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err
	}
	if errno == syscall.ENOSPC || errno == syscall.EDQUOT {
		return &errcode.Error{Code: errcode.StorageFull, Message: "storage full: the disk has no space left; nothing of this event was committed", Err: err}
	}
	return &errcode.Error{Code: errcode.StorageFailed, Message: "storage failed: " + err.Error(), Err: err}
}

// notAuthorized reports whether an SQLITE_ERROR message is one of SQLite's
// refusals of what user SQL may not do (see translate).
func notAuthorized(msg string) bool {
	for _, m := range []string{"not authorized to use function", "may not be modified", "cannot VACUUM", "non-text filename"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}
