package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/roost-dev/roost/internal/errcode"
)

// lockFile is the data directory's lock: a store holds an exclusive flock
// on it from before it reads anything until Close, and writes its process
// ID into it. The kernel releases the lock when the process dies, so a
// crash never leaves the directory locked.
const lockFile = "roost.lock"

// ErrDirInUse is wrapped by the error of an Open whose data directory
// another store holds, in this process or another one. Its code is
// conflict.
var ErrDirInUse = &errcode.Error{Code: errcode.Conflict, Message: "data directory in use"}

// lockDir takes the lock of the data directory dir, failing at once if
// another store holds it. It changes nothing in dir if it fails.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is open in another Roost process%s; stop it, or give this one another data directory",
				ErrDirInUse, dir, holder(f))
		}
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	// The pid only improves the message a second process prints, so a
	// failure to write it does not fail the store.
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// holder names the process that holds the lock, as it wrote itself into
// the file: " (pid N)", or "" if unknown.
func holder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid := strings.TrimSpace(string(b[:n]))
	if _, err := strconv.Atoi(pid); err != nil {
		return ""
	}
	if pid == strconv.Itoa(os.Getpid()) {
		return " (this process, pid " + pid + ")"
	}
	return " (pid " + pid + ")"
}
