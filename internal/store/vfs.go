package store

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/vfs"
	"golang.org/x/sys/unix"
)

// vfsSeq numbers the VFS registrations: SQLite finds a VFS by name, and each
// Store has its own root.
var vfsSeq atomic.Int64

// rootVFS is a SQLite VFS whose every file lives beneath one os.Root.
type rootVFS struct {
	root   *os.Root
	faults *Faults
	// undoWAL cuts the WAL back after a failed sync. It is only sound with
	// synchronous=FULL, where every commit syncs the WAL.
	undoWAL bool
}

// Open opens name beneath the root. Anonymous temporary files (name "") go to
// the default VFS: they hold no object data and are deleted on close.
func (v *rootVFS) Open(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	if name == "" {
		return vfs.Find("").Open(name, flags)
	}
	if !validName(name) {
		return nil, flags, vfs.SystemError(fmt.Errorf("store: path %q escapes the data directory", name), sqlite3.CANTOPEN)
	}
	mode := os.O_RDWR
	if flags&vfs.OPEN_CREATE != 0 {
		mode |= os.O_CREATE
	}
	if flags&vfs.OPEN_EXCLUSIVE != 0 {
		mode |= os.O_EXCL
	}
	_, statErr := v.root.Stat(name)
	f, err := v.root.OpenFile(name, mode, 0o600)
	if err != nil {
		return nil, flags, vfs.SystemError(err, sqlite3.CANTOPEN)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// A new file is only durable once its directory entry is.
		if err := syncDir(v.root, path.Dir(name)); err != nil {
			f.Close()
			return nil, flags, vfs.SystemError(err, sqlite3.IOERR_DIR_FSYNC)
		}
	}
	rf := &rootFile{f: f, name: name, vfs: v, wal: flags&vfs.OPEN_WAL != 0, dirtyFrom: -1}
	return rf, flags, nil
}

// Delete removes name; with syncDir its directory is synced afterwards.
func (v *rootVFS) Delete(name string, dirSync bool) error {
	if !validName(name) {
		return vfs.SystemError(fmt.Errorf("store: path %q escapes the data directory", name), sqlite3.IOERR_DELETE)
	}
	if err := v.root.Remove(name); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return vfs.SystemError(err, sqlite3.IOERR_DELETE_NOENT)
		}
		return vfs.SystemError(err, sqlite3.IOERR_DELETE)
	}
	if dirSync {
		return syncDir(v.root, path.Dir(name))
	}
	return nil
}

// Access reports whether name exists.
func (v *rootVFS) Access(name string, _ vfs.AccessFlag) (bool, error) {
	if !validName(name) {
		return false, nil
	}
	_, err := v.root.Stat(name)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// FullPathname keeps names relative to the root: they are resolved by it.
func (v *rootVFS) FullPathname(name string) (string, error) {
	name = strings.TrimPrefix(name, "/")
	if !validName(name) {
		return "", vfs.SystemError(fmt.Errorf("store: path %q escapes the data directory", name), sqlite3.CANTOPEN_FULLPATH)
	}
	return name, nil
}

// validName accepts clean, local, slash-separated names only. The root would
// refuse an escape anyway; this keeps the error clear and early.
func validName(name string) bool {
	return name != "" && name == path.Clean(name) && !strings.HasPrefix(name, "/") &&
		!strings.HasPrefix(name, "../") && name != ".." && !strings.Contains(name, "\x00")
}

func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// rootFile is an open database or WAL file.
type rootFile struct {
	f    *os.File
	name string
	vfs  *rootVFS
	wal  bool

	mu sync.Mutex // guards the fields below
	// lock is SQLite's lock level on this file; the flock is held above NONE.
	lock vfs.LockLevel
	// dirtyFrom is the lowest offset written since the last successful sync,
	// or -1: a WAL can be cut back to it when a sync fails.
	dirtyFrom int64
}

func (f *rootFile) Close() error { return f.f.Close() }

func (f *rootFile) ReadAt(p []byte, off int64) (int, error) {
	// io.EOF on a short read is what the VFS layer expects: it zero-fills.
	return f.f.ReadAt(p, off)
}

func (f *rootFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.vfs.faults.check(OpWrite, f.name); err != nil {
		return 0, ioError(err, sqlite3.IOERR_WRITE)
	}
	n, err := f.f.WriteAt(p, off)
	if n > 0 {
		f.mu.Lock()
		if f.dirtyFrom < 0 || off < f.dirtyFrom {
			f.dirtyFrom = off
		}
		f.mu.Unlock()
	}
	if err != nil {
		return n, ioError(err, sqlite3.IOERR_WRITE)
	}
	return n, nil
}

func (f *rootFile) Truncate(size int64) error {
	if err := f.f.Truncate(size); err != nil {
		return ioError(err, sqlite3.IOERR_TRUNCATE)
	}
	f.mu.Lock()
	if f.dirtyFrom > size {
		f.dirtyFrom = size
	}
	f.mu.Unlock()
	return nil
}

// Sync flushes the file. If that fails on a WAL, the frames written since the
// last good sync are cut off: SQLite has reported their commit as failed, so
// they must not be found by recovery after a restart.
func (f *rootFile) Sync(vfs.SyncFlag) error {
	err := f.vfs.faults.check(OpSync, f.name)
	if err == nil {
		err = unix.Fdatasync(int(f.f.Fd()))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		f.dirtyFrom = -1
		return nil
	}
	if f.wal && f.vfs.undoWAL && f.dirtyFrom >= 0 {
		if terr := f.f.Truncate(f.dirtyFrom); terr == nil {
			_ = f.f.Sync() // best effort: the disk already failed once
		}
	}
	return ioError(err, sqlite3.IOERR_FSYNC)
}

func (f *rootFile) Size() (int64, error) {
	fi, err := f.f.Stat()
	if err != nil {
		return 0, ioError(err, sqlite3.IOERR_FSTAT)
	}
	return fi.Size(), nil
}

// Lock takes an exclusive, non-blocking flock the first time SQLite locks the
// file: with locking_mode=EXCLUSIVE one connection owns the file, and a second
// process that tries to open the same object gets SQLITE_BUSY.
func (f *rootFile) Lock(level vfs.LockLevel) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lock == vfs.LOCK_NONE && level > vfs.LOCK_NONE {
		if err := unix.Flock(int(f.f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			if errors.Is(err, unix.EWOULDBLOCK) {
				return sqlite3.BUSY
			}
			return ioError(err, sqlite3.IOERR_LOCK)
		}
	}
	if level > f.lock {
		f.lock = level
	}
	return nil
}

func (f *rootFile) Unlock(level vfs.LockLevel) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if level == vfs.LOCK_NONE && f.lock > vfs.LOCK_NONE {
		if err := unix.Flock(int(f.f.Fd()), unix.LOCK_UN); err != nil {
			return ioError(err, sqlite3.IOERR_UNLOCK)
		}
	}
	f.lock = level
	return nil
}

func (f *rootFile) CheckReservedLock() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lock >= vfs.LOCK_RESERVED, nil
}

func (f *rootFile) SectorSize() int { return 4096 }

func (f *rootFile) DeviceCharacteristics() vfs.DeviceCharacteristic {
	return vfs.IOCAP_POWERSAFE_OVERWRITE | vfs.IOCAP_SUBPAGE_READ
}

// LockState reports the lock level (SQLITE_FCNTL_LOCKSTATE).
func (f *rootFile) LockState() vfs.LockLevel {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lock
}

// PersistWAL keeps the WAL file when the last connection closes: recreating
// it would cost a file creation and a directory sync on every activation.
func (f *rootFile) PersistWAL() bool   { return true }
func (f *rootFile) SetPersistWAL(bool) {}

// ioError tags err with an SQLite code; a full disk becomes SQLITE_FULL.
func ioError(err error, code sqlite3.ExtendedErrorCode) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return vfs.SystemError(err, sqlite3.FULL)
	}
	return vfs.SystemError(err, code)
}
