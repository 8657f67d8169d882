package node

import (
	"context"
	"fmt"
	"net/http"
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
	lim := n.cfg.Admin
	cfg := admin.Config{Objects: n.Admin(), Token: token, Logger: n.log,
		MaxResultBytes: lim.SQLMaxBytes, WriteStall: max(lim.SQLTimeout, 0), Classes: n.classInfos}
	if n.cluster == nil {
		return admin.New(cfg)
	}
	cfg.Cluster = clusterAdmin{n.cluster}
	return adminRouter{n: n, h: admin.New(cfg)}
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
// first, so it is current, unless o.Stale), in the order of o.Sort. Pages
// follow one another by cursor: objects that do not change in between are
// each listed exactly once. On a full disk, where the inventory cannot be
// flushed, List fails with code storage_full unless o.Stale.
func (ad *Admin) List(ctx context.Context, o ListObjectsOptions) (ObjectPage, error) {
	if o.Class != "" {
		if err := ad.n.knownClass(o.Class); err != nil {
			return ObjectPage{}, err
		}
	}
	if err := ad.n.catalog.Flush(ctx); err != nil && !o.Stale {
		if errcode.Of(err) == errcode.StorageFull {
			return ObjectPage{}, errcode.New(errcode.StorageFull, "storage full: the inventory cannot write its latest changes; "+
				"list it as last written with roost objects ls --stale (?stale=true), and free space with roost objects rm")
		}
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

// SQLResult runs q on the object's database, read-only unless q.Write is
// set (see [AdminQuery]), and returns its rows: at most q.MaxRows, and at
// most the admin SQL byte bound of them as JSON (Truncated then says so).
// The rules of [Storage.Exec] apply, and a statement that writes without
// Write fails with code read_only. A write commits before SQLResult returns
// and resets the object's instance. A request that runs over the admin SQL
// timeout in the object's turn is interrupted and fails with code timeout.
func (ad *Admin) SQLResult(ctx context.Context, ref ObjectRef, q AdminQuery) (*AdminResult, error) {
	c, err := admin.NewCollector(q, ad.n.cfg.Admin.SQLMaxBytes)
	if err != nil {
		return nil, err
	}
	n, err := ad.SQL(ctx, ref, q, c)
	if err != nil {
		return nil, err
	}
	return c.Result(n), nil
}

// SQL is [Admin.SQLResult] that hands the rows to out as the statement
// produces them, in the object's turn, and returns the number of rows the
// statements changed. out bounds the result: it stops the statement when
// it has enough.
func (ad *Admin) SQL(ctx context.Context, ref ObjectRef, q AdminQuery, out admin.RowWriter) (int64, error) {
	var n int64
	err := ad.do(ctx, &ref, q.Write, func(ctx context.Context, db *store.DB) (err error) {
		ctx, stop := ad.n.sqlDeadline(ctx)
		defer stop()
		n, err = db.AdminQueryTo(ctx, q.Query, q.Args, q.Write, out)
		if err == nil && q.Write && db.Exists() {
			ad.recordSize(ref, db)
		}
		return err
	})
	if err != nil {
		return 0, err // n is not ours to read: a caller that left may not wait for the event
	}
	return n, nil
}

// sqlDeadline bounds an admin SQL request in the object's turn by the SQL
// timeout, on the node's clock: at the deadline, ctx ends with a timeout
// error as its cause, which interrupts the statement (sqlite3_interrupt),
// and the object goes on with its other events.
func (n *Node) sqlDeadline(ctx context.Context) (context.Context, func()) {
	d := n.cfg.Admin.SQLTimeout
	if d <= 0 {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	t := n.cfg.Clock.AfterFunc(d, func() {
		cancel(errcode.New(errcode.Timeout,
			"the SQL ran over the admin SQL timeout of %s in the object's turn and was interrupted (roost serve --admin-sql-timeout)", d))
	})
	return ctx, func() { t.Stop(); cancel(nil) }
}

// Remove deletes everything the object stores, its files, its alarm and
// timers and its inventory entry, like [Storage.DeleteAll] committed on its
// own, and resets its instance. It writes nothing to the object's files,
// so it works on a full disk, where it frees their space. An object that has neither storage nor an
// inventory entry fails with code not_found.
func (ad *Admin) Remove(ctx context.Context, ref ObjectRef) error {
	return ad.do(ctx, &ref, true, func(ctx context.Context, db *store.DB) error {
		k := catalog.Key{Class: ref.Class, ID: ref.ID}
		if db.Exists() {
			// The files go without a write, so that removing an object
			// frees space on a full disk (issue 12); the wake index hears
			// of its timers below.
			if err := db.Remove(ctx); err != nil {
				return err
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

func objectInfo(e catalog.Entry) ObjectInfo {
	return ObjectInfo{Class: e.Class, ID: e.ID, Name: e.Name, Created: e.Created, LastActive: e.LastActive,
		Size: e.Size, NextWake: e.NextWake, Timers: e.Timers}
}
