package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// schemaVersion is the catalog's PRAGMA user_version. A file with a higher
// one was written by a newer Roost, and is refused.
const schemaVersion = 1

// busyTimeoutMS is how long a connection waits for a lock held by another
// one: readers checkpointing, or a second process by mistake.
const busyTimeoutMS = 5000

// Connection settings beyond the defaults. The writer's page cache (in KiB;
// SQLite allocates it as pages are used) holds the whole file of a large
// node (100,000 objects take about 65 MB): with SQLite's default of 2 MB, a flush of random keys rereads a page
// from the OS for nearly every index entry it rewrites, which made flushes
// several times slower. Readers keep their prepared statements: preparing
// List's statements took a third of a page's time.
const (
	writerCache   = "_cache_size=-65536"
	readerOptions = "_cache_size=-16384&_stmt_cache_size=64"
)

// schema is one row per object, keyed by (class, id). Every List order has an
// index whose order matches it exactly, with and without a class filter, so a
// page is an index range scan: the sorted columns are DESC and the tie
// breakers ASC, as List returns them. The partial index on next_wake holds
// only the objects with a pending wake.
var schema = []string{
	`CREATE TABLE objects (
		class       TEXT    NOT NULL,
		id          TEXT    NOT NULL,
		name        TEXT    NOT NULL DEFAULT '',
		created     INTEGER NOT NULL DEFAULT 0,
		last_active INTEGER NOT NULL DEFAULT 0,
		size        INTEGER NOT NULL DEFAULT 0,
		next_wake   INTEGER NOT NULL DEFAULT 0,
		timers      INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (class, id)
	) WITHOUT ROWID`,
	`CREATE INDEX objects_size ON objects (size DESC, class, id)`,
	`CREATE INDEX objects_class_size ON objects (class, size DESC, id)`,
	`CREATE INDEX objects_active ON objects (last_active DESC, class, id)`,
	`CREATE INDEX objects_class_active ON objects (class, last_active DESC, id)`,
	`CREATE INDEX objects_created ON objects (created DESC, class, id)`,
	`CREATE INDEX objects_class_created ON objects (class, created DESC, id)`,
	`CREATE INDEX objects_wake ON objects (next_wake) WHERE next_wake > 0`,
	fmt.Sprintf(`PRAGMA user_version = %d`, schemaVersion),
}

// upsertSQL returns the statement that applies a pending change whose
// indexed columns are those in set. Parameters: ?1 class, ?2 id, ?3 name
// (empty keeps), ?4 created (0 keeps; on insert 0 means ?5), ?5 now, ?6 last
// active (0 keeps), ?7 whether to set the size, ?8 size, ?9 wake mode (see
// wakeMode), ?10 wake time, ?11 timers.
//
// The update assigns only the indexed columns in set: SQLite rewrites the
// index entries of every assigned column, changed or not, and an upsert that
// assigned all four costs three times one that assigns last_active alone,
// the common case after a commit. Name and timers are not indexed and are
// always assigned.
func upsertSQL(set columnSet) string {
	sets := []string{
		`name = CASE WHEN ?3 = '' THEN name ELSE ?3 END`,
		`timers = CASE ?9 WHEN 0 THEN timers WHEN 1 THEN ?11 ELSE max(timers, ?11, 1) END`,
	}
	if set&setCreated != 0 {
		sets = append(sets, `created = ?4`)
	}
	if set&setActive != 0 {
		sets = append(sets, `last_active = ?6`)
	}
	if set&setSize != 0 {
		sets = append(sets, `size = ?8`)
	}
	if set&setWake != 0 {
		sets = append(sets, `next_wake = CASE WHEN ?9 = 1 OR next_wake = 0 OR next_wake > ?10 THEN ?10 ELSE next_wake END`)
	}
	return `INSERT INTO objects (class, id, name, created, last_active, size, next_wake, timers)
VALUES (?1, ?2, ?3, CASE WHEN ?4 = 0 THEN ?5 ELSE ?4 END, ?6, CASE WHEN ?7 THEN ?8 ELSE 0 END,
	CASE WHEN ?9 = 0 THEN 0 ELSE ?10 END, CASE ?9 WHEN 0 THEN 0 WHEN 1 THEN ?11 ELSE max(?11, 1) END)
ON CONFLICT (class, id) DO UPDATE SET ` + strings.Join(sets, ", ")
}

// columnSet is a set of the indexed columns that a pending change assigns.
type columnSet uint8

const (
	setCreated columnSet = 1 << iota
	setActive
	setSize
	setWake
	allColumns = setCreated | setActive | setSize | setWake
)

const deleteSQL = `DELETE FROM objects WHERE class = ?1 AND id = ?2`

// stmts are the writer's prepared statements.
type stmts struct {
	delete *sql.Stmt
	upsert [allColumns + 1]*sql.Stmt // by the columns they assign
}

// dsn is the URI that opens path with params. The path is escaped, so a '?'
// or '#' in a directory name cannot start SQLite's query string.
func dsn(path string, params ...string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	u := url.URL{Path: filepath.ToSlash(abs)}
	return "file:" + u.EscapedPath() + "?" + strings.Join(params, "&"), nil
}

// openDB opens the writer's and the readers' pools and creates the schema if
// the file has none.
func (c *Catalog) openDB() (err error) {
	w, err := dsn(c.cfg.Path, "mode=rwc", "_txlock=immediate", "_journal_mode=WAL", writerCache,
		fmt.Sprintf("_busy_timeout=%d", busyTimeoutMS), "_synchronous="+strings.ToUpper(c.cfg.Synchronous))
	if err != nil {
		return err
	}
	r, _ := dsn(c.cfg.Path, "mode=rw", "_query_only=1", readerOptions, fmt.Sprintf("_busy_timeout=%d", busyTimeoutMS))
	defer func() {
		if err != nil {
			err = errors.Join(err, c.closeDB())
		}
	}()
	if c.db, err = sql.Open("sqlite3", w); err != nil {
		return err
	}
	// One connection: the writer goroutine is the only writer, and its
	// prepared statements stay on the connection they were prepared on.
	c.db.SetMaxOpenConns(1)
	c.db.SetConnMaxIdleTime(0)
	c.db.SetConnMaxLifetime(0)
	if err := c.migrate(); err != nil {
		return err
	}
	for set := range c.stmts.upsert {
		if c.stmts.upsert[set], err = c.db.Prepare(upsertSQL(columnSet(set))); err != nil {
			return fmt.Errorf("prepare upsert: %w", err)
		}
	}
	if c.stmts.delete, err = c.db.Prepare(deleteSQL); err != nil {
		return fmt.Errorf("prepare delete: %w", err)
	}
	// The readers are opened after the schema exists: query_only cannot
	// create it.
	if c.rdb, err = sql.Open("sqlite3", r); err != nil {
		return err
	}
	c.rdb.SetMaxIdleConns(4)
	if err := c.rdb.Ping(); err != nil {
		return fmt.Errorf("open readers: %w", err)
	}
	return nil
}

// migrate creates the schema in a file that has none, in one transaction, so
// a crash leaves either no schema (and New reports true again) or all of it.
func (c *Catalog) migrate() error {
	tx, err := c.db.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("schema version %d is newer than this Roost's %d: upgrade Roost, or move the file away to rebuild it", v, schemaVersion)
	case v != 0:
		return fmt.Errorf("unknown schema version %d: move the file away to rebuild it", v)
	}
	for _, s := range schema {
		if _, err := tx.Exec(s); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create schema: commit: %w", err)
	}
	c.isNew = true
	return nil
}

func (c *Catalog) closeDB() error {
	var errs []error
	for _, s := range append(c.stmts.upsert[:], c.stmts.delete) {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	for _, db := range []*sql.DB{c.rdb, c.db} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}
