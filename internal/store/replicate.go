package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/roost-dev/roost/internal/ids"
)

// Log receives the committed batches of a replicated store (cluster mode)
// and restores objects from them. Set in Config.Log; nil (the default)
// keeps the store as it is without cluster mode, at the same speed.
type Log interface {
	// Restore is called by Store.Open before it looks at an object's file.
	// It brings the local file up to date with the log through r, or
	// leaves it (the log knows the local file is current), and returns an
	// error if the object cannot be served now (fenced, log unreachable,
	// corrupt log): Open returns it.
	Restore(class string, id ids.ID, r *Restorer) error
	// Append is called once a batch committed locally, before the commit
	// is acknowledged, with what the batch wrote. An error fails the commit
	// like a failed fsync: Commit returns it, the DB must be closed, and the
	// Log makes the next Restore rebuild the local file (which may now be
	// ahead of the log).
	Append(class string, id ids.ID, ch *Changes) error
}

// Changes are what one commit wrote to an object's database.
type Changes struct {
	// Base, if not nil, is the whole database file the pages apply to (a
	// new object's first commit: the file it was created from).
	Base []byte
	// Pages are the page images the commit wrote, in the order written (a
	// page may repeat; the last one wins).
	Pages []Page
	// Size is the database's size in pages after the commit.
	Size uint32
	// Removed reports that the commit removed the object (DeleteAll left
	// it empty): it has no file any more.
	Removed bool
}

// Page is one page image.
type Page struct {
	No   uint32
	Data []byte
}

// WAL layout (https://www.sqlite.org/fileformat.html#the_write_ahead_log).
const (
	walHeaderSize = 32
	walFrameHead  = 24
)

// walCursor is where the next commit's frames start in the object's WAL:
// the offset after the last captured commit frame, under the header's salts
// (SQLite restarts the WAL after a checkpoint with new salts, from the
// start).
type walCursor struct {
	off   int64
	salts [8]byte
}

// capture reads the frames the last commit appended to the WAL: those after
// the cursor whose salts match the header's, up to the last commit frame.
// It returns nil when the commit wrote no page. Caller holds mu.
func (db *DB) captureLocked() (*Changes, error) {
	f, err := db.s.root.Open(db.path + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // the commit wrote no page (a read-only batch)
	}
	if err != nil {
		return nil, fmt.Errorf("read the WAL: %w", err)
	}
	defer f.Close()
	var hdr [walHeaderSize]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) && !db.fresh {
			return nil, nil // an empty WAL: the commit wrote no page
		}
		return nil, fmt.Errorf("read the WAL header: %w", err)
	}
	pageSize := int64(binary.BigEndian.Uint32(hdr[8:]))
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return nil, fmt.Errorf("WAL header: bad page size %d", pageSize)
	}
	c := &db.wal
	var salts [8]byte
	copy(salts[:], hdr[16:24])
	if salts != c.salts || c.off < walHeaderSize {
		c.off, c.salts = walHeaderSize, salts
	}
	ch := &Changes{}
	if db.fresh {
		// Created from the template in this process (a replicated store
		// keeps no spares, whose bytes another process may have written).
		t, err := db.s.tmpl()
		if err != nil {
			return nil, err
		}
		ch.Base = t.db
	}
	end, err := readFrames(f, c.off, pageSize, salts, ch)
	if err != nil {
		return nil, err
	}
	if end == c.off {
		return nil, nil // no commit frame: the commit changed no page
	}
	c.off = end
	return ch, nil
}

// readFrames reads the frames from off that carry salts into ch, up to the
// last commit frame, and returns the offset after it.
func readFrames(f *os.File, off, pageSize int64, salts [8]byte, ch *Changes) (int64, error) {
	frame := make([]byte, walFrameHead+pageSize)
	end, committed := off, 0
	for {
		if _, err := f.ReadAt(frame, off); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return 0, fmt.Errorf("read the WAL: %w", err)
		}
		if [8]byte(frame[8:16]) != salts {
			break // a frame of an earlier generation of the WAL
		}
		ch.Pages = append(ch.Pages, Page{No: binary.BigEndian.Uint32(frame), Data: append([]byte(nil), frame[walFrameHead:]...)})
		off += int64(len(frame))
		if size := binary.BigEndian.Uint32(frame[4:]); size != 0 {
			ch.Size, end, committed = size, off, len(ch.Pages)
		}
	}
	ch.Pages = ch.Pages[:committed]
	return end, nil
}

// shipLocked sends the committed batch to the log. removed: the commit
// removes the object.
func (db *DB) shipLocked(removed bool) error {
	ch := &Changes{Removed: true}
	if !removed {
		var err error
		if ch, err = db.captureLocked(); err != nil || ch == nil {
			return err
		}
	}
	db.fresh = false
	return db.s.cfg.Log.Append(db.class, db.id, ch)
}

// shipImageLocked sends the whole database file to the log as the base of
// its next records (after an import replaced it).
func (db *DB) shipImageLocked() error {
	if db.s.cfg.Log == nil {
		return nil
	}
	if err := db.execLocked("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return db.wrap("checkpoint the imported file", err)
	}
	db.wal = walCursor{}
	b, err := db.s.root.ReadFile(db.path)
	if err != nil {
		return db.wrap("read the imported file", err)
	}
	ps, err := pageSizeOf(b)
	if err != nil {
		return err
	}
	db.fresh = false
	return db.s.cfg.Log.Append(db.class, db.id, &Changes{Base: b, Size: uint32(int64(len(b)) / ps)})
}
