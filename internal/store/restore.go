package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/roost-dev/roost/internal/ids"
)

// Restorer writes an object's local file from its log (see [Log]): Start
// from a whole file image (or nothing), Apply each commit in order, then
// Finish to install the result. If the log's Restore calls none of them,
// the local file is used as it is.
type Restorer struct {
	s    *Store
	file string   // the object's database, relative to the data directory
	tmp  *os.File // the file being written
	// none: the result so far is "no object".
	none     bool
	pageSize int64
	// err is the failure of Start or Apply: later calls return it, until
	// Start begins again, and Finish installs nothing.
	err error
}

// restoreSuffix marks a database file being restored.
const restoreSuffix = ".restore"

// Start begins the restore from base, a whole database file (nil: from no
// object).
func (r *Restorer) Start(base []byte) error {
	r.err = r.start(base)
	return r.err
}

func (r *Restorer) start(base []byte) error {
	if r.tmp == nil {
		if err := r.s.ensureDir(path.Dir(r.file)); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		f, err := r.s.root.OpenFile(r.file+restoreSuffix, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		r.tmp = f
	}
	return r.reset(base)
}

// reset replaces the file being written with base.
func (r *Restorer) reset(base []byte) error {
	r.none, r.pageSize = base == nil, 0
	if err := r.tmp.Truncate(0); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if base == nil {
		return nil
	}
	ps, err := pageSizeOf(base)
	if err != nil {
		return err
	}
	r.pageSize = ps
	if _, err := r.tmp.WriteAt(base, 0); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// pageSizeOf reads the page size from a database file's header.
func pageSizeOf(db []byte) (int64, error) {
	if len(db) < 100 || string(db[:16]) != "SQLite format 3\x00" {
		return 0, errors.New("restore: the base is not a SQLite database file")
	}
	ps := int64(binary.BigEndian.Uint16(db[16:]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 || ps&(ps-1) != 0 || int64(len(db))%ps != 0 {
		return 0, fmt.Errorf("restore: the base has a bad page size %d or length %d", ps, len(db))
	}
	return ps, nil
}

// Apply applies one commit's changes.
func (r *Restorer) Apply(ch *Changes) error {
	if r.err == nil {
		r.err = r.apply(ch)
	}
	return r.err
}

func (r *Restorer) apply(ch *Changes) error {
	switch {
	case r.tmp == nil:
		return errors.New("restore: Apply before Start")
	case ch == nil:
		return errors.New("restore: no changes")
	}
	if ch.Removed {
		return r.reset(nil)
	}
	if ch.Base != nil {
		if err := r.reset(ch.Base); err != nil {
			return err
		}
	}
	if err := r.check(ch); err != nil {
		return err
	}
	for _, p := range ch.Pages {
		if _, err := r.tmp.WriteAt(p.Data, int64(p.No-1)*r.pageSize); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	if err := r.tmp.Truncate(int64(ch.Size) * r.pageSize); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// check refuses changes that cannot apply to the file being written.
func (r *Restorer) check(ch *Changes) error {
	switch {
	case r.none:
		return errors.New("restore: pages for an object that has no file (no base)")
	case ch.Size < 1 || int64(ch.Size) > maxRestorePages:
		return fmt.Errorf("restore: bad database size %d pages", ch.Size)
	}
	for _, p := range ch.Pages {
		if p.No < 1 || p.No > ch.Size || int64(len(p.Data)) != r.pageSize {
			return fmt.Errorf("restore: bad page %d of %d bytes (size %d pages of %d bytes)", p.No, len(p.Data), ch.Size, r.pageSize)
		}
	}
	return nil
}

// maxRestorePages bounds a restored database: 10 GiB of 4 KiB pages, the
// largest database limit.
const maxRestorePages = (10 << 30) / 512

// Finish installs the result in place of the local files: the old WAL is
// removed first, so SQLite never replays its frames onto the new file.
// With no result (no base, or a removal) the object's files are removed.
// After a failed Start or Apply it installs nothing and returns that error.
// No fsync: in cluster mode the local file is a cache that a restarted
// node rebuilds from the log.
func (r *Restorer) Finish() error {
	if r.err != nil {
		r.abort()
		return r.err
	}
	if r.tmp == nil {
		return nil
	}
	defer func() { r.tmp = nil }()
	err := r.tmp.Close()
	for _, f := range []string{r.file + "-wal", r.file + "-journal"} {
		if rerr := r.s.root.Remove(f); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	if err == nil && r.none {
		// No object: the empty file being written goes too.
		if err = r.s.root.Remove(r.file + restoreSuffix); err == nil {
			err = r.s.remove(r.file)
		}
	} else if err == nil {
		err = r.s.root.Rename(r.file+restoreSuffix, r.file)
	}
	if err != nil {
		return fmt.Errorf("restore: install: %w", err)
	}
	return nil
}

// abort drops a restore that did not finish.
func (r *Restorer) abort() {
	if r.tmp != nil {
		r.tmp.Close()
		r.s.root.Remove(r.file + restoreSuffix)
		r.tmp = nil
	}
}

// restore lets the log bring the object's local file up to date.
func (s *Store) restore(class string, id ids.ID) error {
	r := &Restorer{s: s, file: Path(class, id)}
	defer r.abort()
	return s.cfg.Log.Restore(class, id, r)
}

// Image writes a consistent copy of the object's whole database file to w
// (a snapshot of a replicated object): the WAL is checkpointed into the
// file first. It must be called between batches.
func (db *DB) Image(w io.Writer) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.inTx {
		return errBatchOpen
	}
	if db.conn == nil {
		return errors.New("image: the object has no file")
	}
	if err := db.execLocked("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return db.wrap("checkpoint", err)
	}
	db.wal = walCursor{}
	f, err := db.s.root.Open(db.path)
	if err != nil {
		return db.wrap("image", err)
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return db.wrap("image", err)
}
