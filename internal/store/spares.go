package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// DefaultSpares is how many new objects' files a store keeps ready.
const DefaultSpares = 64

// spareDir holds one directory of spares per open store, locked (flock)
// while the store is open. A store that opens removes the directories no
// store holds: a spare is never an object, whatever a crash left behind.
const spareDir = ".spare"

// spares keeps the files of new, empty objects made ahead of need, so that
// creating an object moves two files into place (and, with SyncFull, syncs
// their directory) instead of writing new files and syncing them while the
// object's first event waits. A goroutine refills it once half the spares
// are taken; a create that finds it empty writes its files itself.
type spares struct {
	s    *Store
	name string   // the store's directory in spareDir
	dir  *os.File // that directory, locked
	fd   int      // dir's descriptor, for the *at system calls
	want int

	mu    sync.Mutex
	ready []string // names in dir of complete spares: "<n>.db" and "<n>.db-wal"
	seq   int

	kick chan struct{} // spares are wanted
	stop chan struct{} // closed by close
	done chan struct{} // closed when the filler returned
}

// openSpares removes the spare directories of stores that are gone, makes
// this store's, and starts filling it with want spares.
func openSpares(s *Store, want int) (*spares, error) {
	if err := s.root.MkdirAll(spareDir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create spare directory: %w", err)
	}
	old, err := fs.ReadDir(s.root.FS(), spareDir)
	if err != nil {
		return nil, fmt.Errorf("store: list spare directories: %w", err)
	}
	for _, e := range old {
		if err := removeUnlocked(s.root, path.Join(spareDir, e.Name())); err != nil {
			return nil, fmt.Errorf("store: remove old spare files: %w", err)
		}
	}
	sp := &spares{s: s, want: want, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	// Another store opening at this moment may remove the new directory
	// between its creation and its lock: then make another.
	for try := 0; sp.dir == nil; try++ {
		var b [8]byte
		rand.Read(b[:])
		name := path.Join(spareDir, hex.EncodeToString(b[:]))
		if err := s.root.Mkdir(name, 0o700); err != nil {
			return nil, fmt.Errorf("store: create spare directory: %w", err)
		}
		dir, err := s.root.Open(name)
		if errors.Is(err, os.ErrNotExist) && try < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: open spare directory: %w", err)
		}
		fd := int(dir.Fd())
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			dir.Close()
			return nil, fmt.Errorf("store: lock spare directory: %w", err)
		}
		if _, err := s.root.Stat(name); err != nil {
			dir.Close()
			if try < 3 {
				continue
			}
			return nil, fmt.Errorf("store: spare directory: %w", err)
		}
		sp.name, sp.dir, sp.fd = name, dir, fd
	}
	go sp.fill()
	return sp, nil
}

// removeUnlocked removes the spare directory name unless a store holds it.
func removeUnlocked(root *os.Root, name string) error {
	d, err := root.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Flock(int(d.Fd()), unix.LOCK_EX|unix.LOCK_NB); errors.Is(err, unix.EWOULDBLOCK) {
		return nil // an open store's
	} else if err != nil {
		return err
	}
	return root.RemoveAll(name)
}

// fill makes spares until there are want, then waits to be woken. It
// makes none while the disk is nearly full: they would take the space that
// objects need (an operator who frees space on a full disk wants it for
// the objects).
func (sp *spares) fill() {
	defer close(sp.done)
	for {
		for sp.count() < sp.want && !sp.s.lowOnSpace() {
			select {
			case <-sp.stop:
				return
			default:
			}
			if err := sp.make(); err != nil {
				break // a full disk, say: creates write their own files until the next take
			}
		}
		select {
		case <-sp.kick:
		case <-sp.stop:
			return
		}
	}
}

func (sp *spares) count() int {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return len(sp.ready)
}

// make writes one spare: the template's WAL, then its database (synced with
// SyncFull, as a create does), then makes it takeable.
func (sp *spares) make() error {
	sp.mu.Lock()
	sp.seq++
	name := strconv.Itoa(sp.seq) + ".db"
	sp.mu.Unlock()
	full := sp.s.cfg.Synchronous == SyncFull
	fd := sp.fd
	t, err := sp.s.tmpl()
	if err == nil {
		err = writeAt(fd, name+"-wal", t.wal, false)
	}
	if err == nil {
		err = writeAt(fd, name, t.db, full)
	}
	if err != nil {
		unix.Unlinkat(fd, name+"-wal", 0)
		unix.Unlinkat(fd, name, 0)
		return err
	}
	sp.mu.Lock()
	sp.ready = append(sp.ready, name)
	sp.mu.Unlock()
	return nil
}

// take moves a spare's files into the directory dir as base and base-wal,
// and reports whether there was one. The database arrives last: a crash in
// between leaves a WAL without a database, which is no object.
func (sp *spares) take(dir int, base string) (bool, error) {
	sp.mu.Lock()
	n := len(sp.ready)
	if n == 0 {
		sp.mu.Unlock()
		sp.wake()
		return false, nil
	}
	name := sp.ready[n-1]
	sp.ready = sp.ready[:n-1]
	sp.mu.Unlock()
	if n-1 <= sp.want/2 {
		sp.wake() // refilled in one go once half are taken: fewer wake-ups, and creates meanwhile share no disk with it
	}
	fd := sp.fd
	err := unix.Renameat(fd, name+"-wal", dir, base+"-wal")
	if err == nil {
		err = unix.Renameat(fd, name, dir, base)
	}
	if err != nil {
		unix.Unlinkat(fd, name+"-wal", 0)
		unix.Unlinkat(fd, name, 0)
		return true, fmt.Errorf("move a spare file into place: %w", err)
	}
	return true, nil
}

func (sp *spares) wake() {
	select {
	case sp.kick <- struct{}{}:
	default:
	}
}

// close stops the filler and removes the spares left.
func (sp *spares) close() error {
	close(sp.stop)
	<-sp.done
	err := sp.s.root.RemoveAll(sp.name)
	sp.dir.Close()
	return err
}

// writeAt creates name in the directory dir with b, replacing a file of
// that name, and syncs it if asked. It never follows a symlink.
func writeAt(dir int, name string, b []byte, sync bool) error {
	fd, err := unix.Openat(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	_, err = f.Write(b)
	if err == nil && sync {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}
