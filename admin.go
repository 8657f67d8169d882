package roost

import (
	"context"
	"io"
	"net/http"

	"github.com/roost-dev/roost/internal/node"
)

// Admin is the operator's access to the app's objects: what `roost objects`
// does, through [App.AdminHandler]. Every operation on an object is an
// event of its own in the object's turn: it waits for the object's earlier
// events to commit, events that arrive meanwhile wait for it, and the
// object's constructor does not run. It sees and changes committed data
// only, even on an object that is busy.
//
// Import, Remove and SQL with Write change the data under the object's
// feet, so they discard its instance: its next event constructs it again
// from the new data.
type Admin struct{ ad *node.Admin }

// Admin returns the app's operator access.
func (a *App) Admin() *Admin { return &Admin{ad: a.n.Admin()} }

// AdminHandler returns the HTTP admin API, to mount at /_roost/:
//
//	app.Handle("/_roost/", app.AdminHandler(token))
//
// With an empty token it serves only callers on the loopback interface;
// with a token, only callers that send it as "Authorization: Bearer
// <token>". DON'T serve it without a token behind a reverse proxy on the
// same host: every caller the proxy forwards would look local.
func (a *App) AdminHandler(token string) http.Handler { return a.n.AdminHandler(token) }

// The admin types.
type (
	// ObjectRef names an object: its class and its ID, or its name (the ID
	// is then derived from it, and the inventory records the name).
	ObjectRef = node.ObjectRef
	// ObjectInfo is an object in the node's inventory.
	ObjectInfo = node.ObjectInfo
	// ObjectPage is a page of [Admin.List].
	ObjectPage = node.ObjectPage
	// ListObjectsOptions selects a page of [Admin.List].
	ListObjectsOptions = node.ListObjectsOptions
	// InspectOptions selects the KV pairs that [Admin.Inspect] shows.
	InspectOptions = node.InspectOptions
	// Inspection is what [Admin.Inspect] returns.
	Inspection = node.Inspection
	// AdminQuery is SQL for [Admin.SQL]: the statement, its arguments,
	// whether it may write, and the most rows to return.
	AdminQuery = node.AdminQuery
	// AdminResult is what [Admin.SQL] returns.
	AdminResult = node.AdminResult
)

// The orders of [ListObjectsOptions.Sort]: by key (class, then ID; the
// default), by size (largest first), by last activity and by creation
// (newest first).
const (
	SortKey     = node.SortKey
	SortSize    = node.SortSize
	SortActive  = node.SortActive
	SortCreated = node.SortCreated
)

// List returns a page of the node's objects, from its inventory (flushed
// first, so it is current), in the order of o.Sort. Pages follow one
// another by cursor: objects that do not change in between are each listed
// exactly once. On a full disk, where the inventory cannot be flushed, List
// fails with code storage_full unless o.Stale asks for the inventory as last
// written.
func (ad *Admin) List(ctx context.Context, o ListObjectsOptions) (ObjectPage, error) {
	return ad.ad.List(ctx, o)
}

// Inspect returns what the object stores: its inventory entry, its KV pairs
// (a page of them, see [InspectOptions]), its SQL tables and its timers. An
// object without storage fails with code not_found.
func (ad *Admin) Inspect(ctx context.Context, ref ObjectRef, o InspectOptions) (*Inspection, error) {
	return ad.ad.Inspect(ctx, ref, o)
}

// SQL runs q on the object's database, read-only unless q.Write is set
// (see [AdminQuery]): the rules of [Storage.Exec] apply, and a statement
// that writes without Write fails with code read_only. A write commits
// before SQL returns and resets the object's instance.
//
// The result holds at most q.MaxRows rows and [AdminConfig.SQLMaxBytes] of
// them as JSON; Truncated and TruncatedBy say when rows were left out. A
// request that runs over [AdminConfig.SQLTimeout] in the object's turn is
// interrupted and fails with code timeout, and the object's other events,
// which wait for their turn meanwhile, run.
func (ad *Admin) SQL(ctx context.Context, ref ObjectRef, q AdminQuery) (*AdminResult, error) {
	return ad.ad.SQLResult(ctx, ref, q)
}

// Export writes a consistent copy of the object's database to w: a SQLite
// file in rollback-journal mode, Roost's internal tables included, that the
// sqlite3 shell opens. The copy is taken with SQLite's backup API in the
// object's turn, into a temporary file in the data directory, and then
// streamed: the object waits only for the copy, not for w. An object
// without storage fails with code not_found.
func (ad *Admin) Export(ctx context.Context, ref ObjectRef, w io.Writer) error {
	return ad.ad.Export(ctx, ref, w)
}

// Import replaces the object's database with the SQLite file read from r,
// atomically: on any failure the object is as before. The file must be a
// database with 4096-byte pages that passes PRAGMA integrity_check and
// holds nothing user SQL could not have made (see `roost objects import
// --help`); otherwise Import fails with code bad_request. It is at most
// [AdminConfig.ImportMaxBytes] and [Config.MaxDatabaseSize] bytes (code
// limit_exceeded). Its header is checked before the rest is read: an
// upload that is no SQLite database, or says it is too big, is refused at
// once.
//
// Unless force is set, an object that already holds data (a KV pair, a
// table, a timer) is left alone and Import fails with code conflict. The
// file's alarm and timers are scheduled.
//
// r is read into a temporary file in the data directory before the object's
// turn, so a slow upload does not hold the object up; Import needs free
// space for three copies of the file.
func (ad *Admin) Import(ctx context.Context, ref ObjectRef, r io.Reader, force bool) error {
	return ad.ad.Import(ctx, ref, r, force)
}

// Remove deletes everything the object stores, its files, its alarm and
// timers and its inventory entry, like [Storage.DeleteAll] committed on its
// own, and resets its instance. It writes nothing to the object's files,
// so it works on a full disk, where it frees their space. An object that
// has neither storage nor an inventory entry fails with code not_found.
func (ad *Admin) Remove(ctx context.Context, ref ObjectRef) error {
	return ad.ad.Remove(ctx, ref)
}
