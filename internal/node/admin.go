package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/roost-dev/roost/internal/admin"
	"github.com/roost-dev/roost/internal/catalog"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/store"
)

// Admin is the operator's access to the node's objects: it implements
// the admin API's admin.Objects (roost.Admin documents each operation).
// Every operation on an object is an event of its own in the object's turn,
// with storage only: the constructor does not run, and only committed data
// is seen. Import, Remove and SQL with Write discard the instance.
type Admin struct{ n *Node }

// Admin returns the node's operator access.
func (n *Node) Admin() *Admin { return &Admin{n: n} }

// AdminHandler returns the HTTP admin API, to mount at /_roost/: with an
// empty token it serves loopback callers only.
func (n *Node) AdminHandler(token string) http.Handler {
	return admin.New(admin.Config{Objects: n.Admin(), Token: token, Logger: n.log})
}

// The admin types, re-exported by the root package.
type (
	ObjectRef          = admin.Ref
	ObjectInfo         = admin.Object
	ObjectPage         = admin.Page
	ListObjectsOptions = admin.ListOptions
	InspectOptions     = admin.InspectOptions
	Inspection         = admin.Inspection
	AdminQuery         = admin.Query
	AdminResult        = admin.QueryResult
)

// The sort orders of ListObjectsOptions.Sort.
const (
	SortKey     = admin.SortKey
	SortSize    = admin.SortSize
	SortActive  = admin.SortActive
	SortCreated = admin.SortCreated
)

// List returns a page of the node's objects, from its inventory (flushed
// first, so it is current), in the order of o.Sort. Pages follow one
// another by cursor: objects that do not change in between are each listed
// exactly once.
func (ad *Admin) List(ctx context.Context, o ListObjectsOptions) (ObjectPage, error) {
	if o.Class != "" {
		if err := ad.n.knownClass(o.Class); err != nil {
			return ObjectPage{}, err
		}
	}
	if err := ad.n.catalog.Flush(ctx); err != nil {
		return ObjectPage{}, err
	}
	p, err := ad.n.catalog.List(ctx, catalog.ListOptions{Class: o.Class, Sort: catalog.Sort(o.Sort), Limit: o.Limit, Cursor: o.Cursor})
	if err != nil {
		return ObjectPage{}, err
	}
	page := ObjectPage{Objects: make([]ObjectInfo, len(p.Entries)), Next: p.Next}
	for i, e := range p.Entries {
		page.Objects[i] = objectInfo(e)
	}
	return page, nil
}

// Inspect returns what the object stores: its inventory entry, its KV pairs
// (a page of them, see [InspectOptions]), its SQL tables and its timers. An
// object without storage fails with code not_found.
func (ad *Admin) Inspect(ctx context.Context, ref ObjectRef, o InspectOptions) (*Inspection, error) {
	o, err := inspectOptions(o)
	if err != nil {
		return nil, err
	}
	var in *Inspection
	err = ad.do(ctx, &ref, false, func(ctx context.Context, db *store.DB) (err error) {
		if !db.Exists() {
			return fmt.Errorf("inspect %s: %w", ref, store.ErrNoStorage)
		}
		in, err = ad.inspect(ctx, ref, db, o)
		return err
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

func (ad *Admin) inspect(ctx context.Context, ref ObjectRef, db *store.DB, o InspectOptions) (*Inspection, error) {
	in := &Inspection{Object: ObjectInfo{Class: ref.Class, ID: ref.ID, Name: ref.Name}}
	e, found, err := ad.n.catalog.Get(ctx, catalog.Key{Class: ref.Class, ID: ref.ID})
	if err != nil {
		return nil, err
	}
	if found {
		in.Object = objectInfo(e)
	}
	if in.Object.Size, err = db.Size(); err != nil {
		return nil, err
	}
	if in.KV, in.KVNext, err = listKV(ctx, db, o); err != nil {
		return nil, err
	}
	tables, err := db.Tables(ctx)
	if err != nil {
		return nil, err
	}
	in.Tables = make([]admin.Table, len(tables))
	for i, t := range tables {
		in.Tables[i] = admin.Table{Name: t.Name, Type: t.Type, SQL: t.SQL, Rows: t.Rows}
	}
	timers, err := db.Timers(ctx)
	if err != nil {
		return nil, err
	}
	in.Timers = make([]admin.Timer, len(timers))
	for i, t := range timers {
		in.Timers[i] = admin.Timer{Name: t.Name, Kind: timerKind(t), Next: t.Due, Scheduled: t.Scheduled,
			Spec: t.Spec, Attempt: t.Attempt, PayloadSize: len(t.Payload)}
	}
	in.Object.Timers, in.Object.NextWake = len(timers), time.Time{}
	if len(timers) > 0 {
		in.Object.NextWake = timers[0].Due
	}
	return in, nil
}

// inspectOptions checks o and fills its defaults; Start becomes the first
// key to show.
func inspectOptions(o InspectOptions) (InspectOptions, error) {
	switch {
	case o.Limit < 0:
		return o, errcode.New(errcode.BadRequest, "inspect: negative limit %d", o.Limit)
	case o.Limit == 0:
		o.Limit = admin.DefaultKVLimit
	case o.Limit > admin.MaxKVLimit:
		o.Limit = admin.MaxKVLimit
	}
	if o.ValueBytes == 0 {
		o.ValueBytes = admin.DefaultValueBytes
	}
	if o.Cursor != "" {
		start, err := admin.DecodeCursor(o.Cursor)
		if err != nil {
			return o, err
		}
		o.Start = start
	}
	return o, nil
}

// kvChunk is how many pairs listKV reads at a time: values are cut to
// their preview as they come, so a page of large values never sits in
// memory whole.
const kvChunk = 16

// listKV returns a page of the object's KV pairs and the cursor of the
// next one.
func listKV(ctx context.Context, db *store.DB, o InspectOptions) ([]admin.KV, string, error) {
	out := make([]admin.KV, 0, min(o.Limit, kvChunk))
	start := o.Start
	for {
		es, err := db.List(ctx, store.ListOptions{Prefix: o.Prefix, Start: start, Limit: kvChunk})
		if err != nil {
			return nil, "", err
		}
		for _, e := range es {
			if len(out) == o.Limit {
				return out, admin.EncodeCursor(e.Key), nil
			}
			out = append(out, admin.NewKV(e.Key, e.Value, o.KeysOnly, o.ValueBytes))
		}
		if len(es) < kvChunk {
			return out, "", nil
		}
		start = es[len(es)-1].Key + "\x00" // the next key after it
	}
}

// SQL runs q on the object's database, read-only unless q.Write is set
// (see [AdminQuery]): the rules of [Storage.Exec] apply, and a statement
// that writes without Write fails with code read_only. A write commits
// before SQL returns and resets the object's instance.
func (ad *Admin) SQL(ctx context.Context, ref ObjectRef, q AdminQuery) (*AdminResult, error) {
	if q.MaxRows < 0 || q.MaxRows > admin.MaxRows {
		return nil, errcode.New(errcode.BadRequest, "sql: max rows must be 0 to %d, got %d", admin.MaxRows, q.MaxRows)
	}
	var res *store.QueryResult
	err := ad.do(ctx, &ref, q.Write, func(ctx context.Context, db *store.DB) (err error) {
		res, err = db.AdminQuery(ctx, q.Query, q.Args, q.Write, q.MaxRows)
		if err == nil && q.Write && db.Exists() {
			ad.recordSize(ref, db)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &AdminResult{Columns: res.Columns, Rows: res.Rows, Truncated: res.Truncated, RowsAffected: res.RowsAffected}, nil
}

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
// --help`); otherwise Import fails with code bad_request. It is at most
// [Config.MaxDatabaseSize] bytes (code limit_exceeded).
//
// Unless force is set, an object that already holds data (a KV pair, a
// table, a timer) is left alone and Import fails with code conflict. The
// file's alarm and timers are scheduled.
//
// r is read into a temporary file in the data directory before the object's
// turn, so a slow upload does not hold the object up; Import needs free
// space for three copies of the file.
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
	if err := spool(path, r, ad.n.store.Config().MaxDatabaseSize); err != nil {
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

// spool copies r into a new file at path, failing with a LimitError once it
// passes max bytes.
func spool(path string, r io.Reader, max int64) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	n, err := io.Copy(f, io.LimitReader(r, max+1))
	if err != nil && errcode.Coded(err) { // request_timeout from the gateway
		return err
	}
	if err != nil {
		return errcode.New(errcode.BadRequest, "import: read the file: %v", err)
	}
	if n > max {
		return &store.LimitError{Limit: "database size", Max: max}
	}
	return nil
}

// Remove deletes everything the object stores, its files, its alarm and
// timers and its inventory entry, like [Storage.DeleteAll] committed on its
// own, and resets its instance. An object that has neither storage nor an
// inventory entry fails with code not_found.
func (ad *Admin) Remove(ctx context.Context, ref ObjectRef) error {
	return ad.do(ctx, &ref, true, func(ctx context.Context, db *store.DB) error {
		k := catalog.Key{Class: ref.Class, ID: ref.ID}
		if db.Exists() {
			// No batch is open: DeleteAll commits at once, which removes
			// the files and tells the wake index.
			if err := db.DeleteAll(ctx); err != nil {
				return err
			}
			if db.Exists() {
				return fmt.Errorf("remove %s: the files are still there after DeleteAll", ref)
			}
		} else if _, found, err := ad.n.catalog.Get(ctx, k); err != nil {
			return err
		} else if !found {
			return fmt.Errorf("remove %s: %w", ref, store.ErrNoStorage)
		}
		// An index entry whose timers are gone (a stale wake) goes too.
		ad.n.wakes.Committed(ref.Class, ref.ID, time.Time{}, 0)
		ad.n.catalog.Remove(k)
		return nil
	})
}

// do resolves ref and runs fn as an admin event of the object: storage
// only, with no batch open; reset discards the instance afterwards.
func (ad *Admin) do(ctx context.Context, ref *ObjectRef, reset bool, fn func(ctx context.Context, db *store.DB) error) error {
	if err := ad.resolve(ref); err != nil {
		return err
	}
	return ad.n.rt.Deliver(ctx, &runtime.Event{Class: ref.Class, ID: ref.ID, Name: ref.Name, Kind: runtime.KindAdmin,
		Storage: true, Solo: true, Reset: reset,
		Fn: func(ctx context.Context, _ any, db *store.DB) error { return fn(ctx, db) }})
}

// resolve checks ref and derives its ID from its name.
func (ad *Admin) resolve(ref *ObjectRef) error {
	if err := ad.n.knownClass(ref.Class); err != nil {
		return err
	}
	if ref.Name == "" {
		if ref.ID.IsZero() {
			return errcode.New(errcode.InvalidID, "no object named: give a name or an ID")
		}
		return nil
	}
	id := ids.FromName(ref.Class, ref.Name)
	if !ref.ID.IsZero() && ref.ID != id {
		return errcode.New(errcode.BadRequest, "the name %q and the ID %s name different objects of class %s", ref.Name, ref.ID, ref.Class)
	}
	ref.ID = id
	return nil
}

// recordSize records the object's size in the inventory after an admin
// write.
func (ad *Admin) recordSize(ref ObjectRef, db *store.DB) {
	if size, err := db.Size(); err == nil {
		ad.n.catalog.Update(catalog.Update{Key: catalog.Key{Class: ref.Class, ID: ref.ID}, Name: ref.Name, Size: size, SetSize: true})
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

func objectInfo(e catalog.Entry) ObjectInfo {
	return ObjectInfo{Class: e.Class, ID: e.ID, Name: e.Name, Created: e.Created, LastActive: e.LastActive,
		Size: e.Size, NextWake: e.NextWake, Timers: e.Timers}
}
