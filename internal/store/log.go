package store

import (
	"github.com/roost-dev/roost/internal/ids"
)

// Log receives the committed batches of a replicated store (cluster mode)
// and restores objects from them: the log is the truth, and an object's
// local SQLite file is a cache of it. It is set in [Config.Log]; nil (the
// default) keeps the store as in single-node mode, at the same speed.
//
// A Log's methods are called for one object at a time (the store's caller
// never opens an object twice at once), possibly for many objects at once.
type Log interface {
	// Restore is called by [Store.Open] before it looks at the object's
	// file. It brings the local file up to date with the log through r, or
	// leaves it alone (the Log knows the local file is current: it then
	// calls none of r's methods). A restored file is not synced: after a
	// crash of the process or the machine, the Log must restore again
	// before it trusts a local file. An error means the object cannot be
	// served now (fenced, log unreachable, log corrupt): Open returns it.
	Restore(class string, id ids.ID, r *Restorer) error
	// Append is called once a batch committed locally, before the commit
	// is acknowledged, with what the batch wrote. It is not called for a
	// batch that wrote nothing. An error fails the commit like a failed
	// fsync: Commit returns it (wrapped), the DB is broken and must be
	// closed, and the Log must make the next Restore rebuild the local
	// file, which may now hold the unacknowledged batch.
	//
	// ch and the Data of its pages belong to the store: they are valid
	// until Append returns and must not be changed.
	Append(class string, id ids.ID, ch *Changes) error
}

// Changes are what one commit wrote to an object's database file: page
// images, as in SQLite's write-ahead log.
type Changes struct {
	// Base, if not nil, is a whole database file that Pages apply to: the
	// file a new object was created from (its first commit). Otherwise
	// Pages apply to the database as the object's previous Changes left it.
	Base []byte
	// Pages are page images in the order written. A page may repeat: the
	// last image wins. Pages beyond Size are dropped.
	Pages []Page
	// Size is the database's size in pages after the commit.
	Size uint32
	// Removed: the commit removed the object (DeleteAll left it empty, or an
	// operator removed it): it has no file any more. Base, Pages and Size
	// are then unset.
	Removed bool
}

// Page is the image of one database page.
type Page struct {
	// No is the page number, from 1.
	No uint32
	// Data is the page's bytes: exactly one page.
	Data []byte
}
