package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/roost-dev/roost/internal/catalog"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/store"
)

// The admin operations that move whole files: export and import.

// Export writes a consistent copy of the object's database to w: a SQLite
// file in rollback-journal mode, Roost's internal tables included, that the
// sqlite3 shell opens. The copy is taken with SQLite's backup API in the
// object's turn, into a temporary file in the data directory, and then
// streamed: the object waits only for the copy, not for w. An object
// without storage fails with code not_found.
func (ad *Admin) Export(ctx context.Context, ref ObjectRef, w io.Writer) error {
	dir, err := ad.n.tempDir("export-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "object.db")
	err = ad.do(ctx, &ref, false, func(ctx context.Context, db *store.DB) error { return db.Export(ctx, path) })
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("export %s: %w", ref, err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("export %s: %w", ref, err)
	}
	return nil
}

// Import replaces the object's database with the SQLite file read from r,
// atomically: on any failure the object is as before. The file must be a
// database with 4096-byte pages that passes PRAGMA integrity_check and
// holds nothing user SQL could not have made (see `roost objects import
// --help`); otherwise Import fails with code bad_request. It is at most the
// admin import bound and [Config.MaxDatabaseSize] bytes (code
// limit_exceeded).
//
// Unless force is set, an object that already holds data (a KV pair, a
// table, a timer) is left alone and Import fails with code conflict. The
// file's alarm and timers are scheduled.
//
// r is read into a temporary file in the data directory before the object's
// turn, so a slow upload does not hold the object up; Import needs free
// space for three copies of the file. Its header is checked first: an
// upload that is no SQLite database, or whose header says it is too big,
// is refused before more of it is read.
func (ad *Admin) Import(ctx context.Context, ref ObjectRef, r io.Reader, force bool) error {
	if err := ad.resolve(&ref); err != nil {
		return err
	}
	dir, err := ad.n.tempDir("import-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "upload.db")
	if err := ad.spool(path, r); err != nil {
		return err
	}
	return ad.do(ctx, &ref, true, func(ctx context.Context, db *store.DB) error {
		return ad.importFile(ctx, ref, db, path, force)
	})
}

// importFile imports path into db and brings the wake index and the
// inventory up to date: the import changes the object's timers without a
// commit of its own, so the store tells the index nothing.
func (ad *Admin) importFile(ctx context.Context, ref ObjectRef, db *store.DB, path string, force bool) error {
	n := ad.n
	k := catalog.Key{Class: ref.Class, ID: ref.ID}
	// The imported timers are known only once they are in; until the index
	// has them, a wake now stands for them. It is durable before the import
	// commits, so a crash in between wakes the object early, which then
	// records its real next wake; it can never leave a timer unindexed.
	if err := n.wakes.Prepare(ref.Class, ref.ID, n.cfg.Clock.Now(), false); err != nil {
		return err
	}
	importErr := db.Import(ctx, path, force)
	next, count, err := db.NextTimer(ctx)
	if err != nil {
		return errors.Join(importErr, err)
	}
	n.wakes.Committed(ref.Class, ref.ID, next, count)
	if !db.Exists() {
		n.catalog.Remove(k) // the wake above made a row for it
		return importErr
	}
	if importErr != nil {
		return importErr
	}
	size, err := db.Size()
	if err != nil {
		return err
	}
	n.catalog.Update(catalog.Update{Key: k, Name: ref.Name, LastActive: n.cfg.Clock.Now(), Size: size, SetSize: true})
	return nil
}

// spool checks the header of the upload r, then copies it into a new file
// at path, failing with code limit_exceeded once it passes the bound.
func (ad *Admin) spool(path string, r io.Reader) (err error) {
	max, over := ad.importBound()
	h := make([]byte, store.HeaderSize)
	n, err := io.ReadFull(r, h)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return readError(err)
	}
	if err := store.CheckHeader(h[:n], max); err != nil {
		if le, ok := errors.AsType[*store.LimitError](err); ok {
			return over(le.Got)
		}
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := f.Write(h); err != nil {
		return err
	}
	copied, err := io.Copy(f, io.LimitReader(r, max-int64(n)+1))
	if err != nil {
		return readError(err)
	}
	if int64(n)+copied > max {
		return over(0)
	}
	return nil
}

// readError is the error of an upload that could not be read: the
// gateway's own (request_timeout) as it is, any other as bad_request.
func readError(err error) error {
	if errcode.Coded(err) {
		return err
	}
	return errcode.New(errcode.BadRequest, "import: read the file: %v", err)
}

// importBound is the most bytes an imported file may have, and the error
// for a file over it (got: its size if known, else 0).
func (ad *Admin) importBound() (int64, func(got int64) error) {
	lim, dbMax := ad.n.cfg.Admin.ImportMaxBytes, ad.n.store.Config().MaxDatabaseSize
	if lim <= 0 || lim >= dbMax {
		return dbMax, func(got int64) error { return &store.LimitError{Limit: "database size", Max: dbMax, Got: got} }
	}
	return lim, func(got int64) error {
		size := ""
		if got > 0 {
			size = fmt.Sprintf(" (its header says %d)", got)
		}
		return errcode.New(errcode.LimitExceeded,
			"import: the file is over the import limit of %d bytes%s; roost serve --admin-import-max-bytes raises it", lim, size)
	}
}

// tempDir makes a new directory for an admin operation's files beneath the
// data directory's .tmp, which the store empties when it opens: a crash
// leaves nothing behind for long.
func (n *Node) tempDir(pattern string) (string, error) {
	base := filepath.Join(n.cfg.Dir, ".tmp")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	return os.MkdirTemp(base, pattern)
}
