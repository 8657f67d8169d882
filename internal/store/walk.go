package store

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/roost-dev/roost/internal/ids"
)

// ObjectFile is an object's database file as found on disk.
type ObjectFile struct {
	Class    string
	ID       ids.ID
	Size     int64     // of the database file, not counting its WAL
	WALSize  int64     // of its WAL (0 if none)
	Modified time.Time // of the database or its WAL, whichever is later
}

// Walk calls fn for every object that has a database file, in no
// particular order. Entries that are not objects' files are skipped.
func (s *Store) Walk(fn func(ObjectFile) error) error {
	classes, err := fs.ReadDir(s.root.FS(), objectsDir)
	if err != nil {
		return fmt.Errorf("store: walk: %w", err)
	}
	for _, c := range classes {
		if !c.IsDir() || ids.ValidClass(c.Name()) != nil {
			continue
		}
		shards, err := fs.ReadDir(s.root.FS(), objectsDir+"/"+c.Name())
		if err != nil {
			return fmt.Errorf("store: walk: %w", err)
		}
		for _, sh := range shards {
			if !sh.IsDir() {
				continue
			}
			dir := objectsDir + "/" + c.Name() + "/" + sh.Name()
			files, err := fs.ReadDir(s.root.FS(), dir)
			if err != nil {
				return fmt.Errorf("store: walk: %w", err)
			}
			// A commit writes the WAL: the object was last modified when
			// its database or its WAL was.
			wals := map[string]fs.FileInfo{}
			for _, f := range files {
				if db, ok := strings.CutSuffix(f.Name(), "-wal"); ok {
					if info, err := f.Info(); err == nil {
						wals[db] = info
					}
				}
			}
			for _, f := range files {
				hex, ok := strings.CutSuffix(f.Name(), ".db")
				if !ok {
					continue
				}
				id, err := ids.Parse(hex)
				if err != nil || !strings.HasPrefix(hex, sh.Name()) {
					continue
				}
				info, err := f.Info()
				if errors.Is(err, fs.ErrNotExist) {
					continue // removed meanwhile
				} else if err != nil {
					return fmt.Errorf("store: walk: %w", err)
				}
				if info.Size() == 0 {
					continue // not an object (see Exists)
				}
				of := ObjectFile{Class: c.Name(), ID: id, Size: info.Size(), Modified: info.ModTime()}
				if w := wals[f.Name()]; w != nil {
					of.WALSize = w.Size()
					if w.ModTime().After(of.Modified) {
						of.Modified = w.ModTime()
					}
				}
				if err := fn(of); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
