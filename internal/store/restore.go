package store

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"

	"github.com/roost-dev/roost/internal/ids"
)

// Restorer writes an object's local database file from its log. The Log's
// Restore calls Start, Apply for each commit since the base, then Finish;
// or none of them to keep the local file as it is.
//
// The file is built beside the data (in the data directory's .tmp, emptied
// when the store opens) and replaces the object's files only in Finish: a
// failure at any point leaves the old local files, never a half-restored
// one under the object's name. Nothing is synced (see Finish). Every input is checked
// (page size, page numbers, lengths, sizes within Config.MaxDatabaseSize):
// bad Changes return an error, and then Finish installs nothing.
type Restorer struct {
	s    *Store
	file string   // the object's database, relative to the data directory
	tmp  string   // the file being built
	f    *os.File // tmp, open from Start to Finish
	// pageSize is the database's page size; exists: the result is an
	// object (false: no object, whose files Finish removes).
	pageSize int
	exists   bool
	started  bool
	done     bool
	err      error // the first failure: every later call returns it
}

// restore runs the Log's Restore for an object about to be opened.
func (s *Store) restore(class string, id ids.ID) error {
	r := &Restorer{s: s, file: Path(class, id)}
	err := s.cfg.Log.Restore(class, id, r)
	if err == nil && r.started && !r.done {
		err = errors.New("the log started a restore and did not finish it")
	}
	r.discard()
	if err != nil {
		return fmt.Errorf("restore %s/%s: %w", class, id.String()[:12], err)
	}
	return nil
}

// Start begins the object's file anew from base, a whole database file
// image (from [DB.Image], or a new object's first [Changes.Base]); nil
// begins from no object. It may be called again to begin anew.
func (r *Restorer) Start(base []byte) error {
	if err := r.usable(); err != nil {
		return err
	}
	if r.f == nil {
		if err := r.openTemp(); err != nil {
			return r.fail(err)
		}
	}
	r.started = true
	if base == nil {
		r.exists = false
		return r.fail(r.f.Truncate(0))
	}
	return r.setBase(base)
}

// Apply applies one commit's changes to the file begun by Start. The whole
// of ch is checked before anything is written.
func (r *Restorer) Apply(ch *Changes) error {
	if err := r.usable(); err != nil {
		return err
	}
	if !r.started {
		return r.fail(errors.New("Apply before Start"))
	}
	if ch.Removed {
		r.exists = false
		return r.fail(r.f.Truncate(0))
	}
	pageSize, err := r.check(ch)
	if err != nil {
		return r.fail(err)
	}
	if ch.Base != nil {
		if err := r.setBase(ch.Base); err != nil {
			return err
		}
	}
	r.pageSize = pageSize
	for _, p := range ch.Pages {
		if p.No <= ch.Size {
			if _, err := r.f.WriteAt(p.Data, int64(p.No-1)*int64(pageSize)); err != nil {
				return r.fail(err)
			}
		}
	}
	return r.fail(r.f.Truncate(int64(ch.Size) * int64(pageSize)))
}

// check validates ch (not Removed) and returns the page size its pages
// have.
func (r *Restorer) check(ch *Changes) (int, error) {
	pageSize := r.pageSize
	if ch.Base != nil {
		n, err := r.checkBase(ch.Base)
		if err != nil {
			return 0, err
		}
		pageSize = n
	} else if !r.exists {
		return 0, errors.New("changes without a base to an object that does not exist")
	}
	if ch.Size < 1 || int64(ch.Size)*int64(pageSize) > r.s.cfg.MaxDatabaseSize {
		return 0, fmt.Errorf("database size of %d pages of %d bytes: must be 1 to Config.MaxDatabaseSize", ch.Size, pageSize)
	}
	for _, p := range ch.Pages {
		if p.No < 1 || len(p.Data) != pageSize {
			return 0, fmt.Errorf("page %d of %d bytes: the page number must be ≥ 1 and the length %d", p.No, len(p.Data), pageSize)
		}
	}
	return pageSize, nil
}

// checkBase validates a whole database file and returns its page size.
func (r *Restorer) checkBase(b []byte) (int, error) {
	if len(b) < HeaderSize || string(b[:16]) != sqliteMagic {
		return 0, errors.New("the base is not a SQLite database")
	}
	n := pageSizeOf(b)
	if !validPageSize(n) || len(b)%n != 0 || int64(len(b)) > r.s.cfg.MaxDatabaseSize {
		return 0, fmt.Errorf("the base of %d bytes with pages of %d bytes is not a whole database within Config.MaxDatabaseSize", len(b), n)
	}
	return n, nil
}

// setBase makes the file a copy of base.
func (r *Restorer) setBase(base []byte) error {
	n, err := r.checkBase(base)
	if err != nil {
		return r.fail(err)
	}
	if err := r.f.Truncate(0); err != nil {
		return r.fail(err)
	}
	if _, err := r.f.WriteAt(base, 0); err != nil {
		return r.fail(err)
	}
	r.pageSize, r.exists = n, true
	return nil
}

// Finish installs the result in place of the object's local files: the
// database file, without a WAL (not synced: see install); or, if the result
// is no object, removes them. After Finish the Restorer is done.
func (r *Restorer) Finish() error {
	if err := r.usable(); err != nil {
		return err
	}
	r.done = true
	if !r.started {
		return nil
	}
	if !r.exists {
		return r.fail(r.removeObject())
	}
	if err := r.checkResult(); err != nil {
		return r.fail(err)
	}
	return r.fail(r.install())
}

// checkResult checks that the file built is a database with its page size.
func (r *Restorer) checkResult() error {
	h := make([]byte, HeaderSize)
	if _, err := r.f.ReadAt(h, 0); err != nil {
		return fmt.Errorf("read the restored header: %w", err)
	}
	if string(h[:16]) != sqliteMagic || pageSizeOf(h) != r.pageSize {
		return fmt.Errorf("the restored file is not a SQLite database with pages of %d bytes", r.pageSize)
	}
	return nil
}

// pageSizeOf returns the page size a database header records.
func pageSizeOf(h []byte) int {
	n := int(binary.BigEndian.Uint16(h[16:18]))
	if n == 1 {
		return 65536
	}
	return n
}

// install moves the file built into place. The old WAL goes first: SQLite
// would apply its frames to the new file. Nothing is synced: the local file
// is a cache, and a Log must not trust it after a crash (a crashed node
// restores its objects from the log).
func (r *Restorer) install() error {
	if err := r.s.ensureDir(path.Dir(r.file)); err != nil {
		return err
	}
	for _, f := range []string{r.file + "-wal", r.file + "-journal"} {
		if err := r.s.root.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return r.s.root.Rename(r.tmp, r.file)
}

// removeObject removes the object's files, if it has any.
func (r *Restorer) removeObject() error {
	if _, err := r.s.root.Stat(path.Dir(r.file)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return r.s.remove(r.file)
}

// openTemp creates the file to build in the data directory's .tmp.
func (r *Restorer) openTemp() error {
	if err := r.s.root.MkdirAll(".tmp", 0o700); err != nil {
		return err
	}
	var b [8]byte
	rand.Read(b[:])
	r.tmp = path.Join(".tmp", "restore-"+hex.EncodeToString(b[:])+".db")
	f, err := r.s.root.OpenFile(r.tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	r.f = f
	return nil
}

// usable returns the error that ended the Restorer, if any.
func (r *Restorer) usable() error {
	switch {
	case r.err != nil:
		return r.err
	case r.done:
		return errors.New("restore the object's file: already finished")
	}
	return nil
}

// fail records err, the Restorer's first failure, and returns it.
func (r *Restorer) fail(err error) error {
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("restore the object's file: %w", err)
	}
	if err != nil {
		return r.err
	}
	return nil
}

// discard closes and removes the file built, unless Finish moved it.
func (r *Restorer) discard() {
	if r.f == nil {
		return
	}
	r.f.Close()
	r.s.root.Remove(r.tmp) // gone already if installed
}
