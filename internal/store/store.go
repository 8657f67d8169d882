package store

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
	"golang.org/x/sys/unix"

	"github.com/roost-dev/roost/internal/ids"
)

// Sync is the durability mode of commits.
type Sync string

// The durability modes.
const (
	// SyncFull fsyncs the WAL on every commit: an acknowledged write survives
	// a power failure. The default.
	SyncFull Sync = "full"
	// SyncNormal fsyncs only at checkpoints: an acknowledged write survives a
	// crash of the process, not of the machine.
	SyncNormal Sync = "normal"
)

// Defaults of [Config], the same as Cloudflare's SQLite-backed Durable Objects.
const (
	DefaultMaxKeySize      = 2 << 10  // 2 KiB
	DefaultMaxValueSize    = 2 << 20  // 2 MiB
	DefaultMaxDatabaseSize = 10 << 30 // 10 GiB
)

// Config configures a [Store]. The zero value of a field means its default.
type Config struct {
	// Dir is the data directory; it is created if missing. Required.
	Dir string
	// Synchronous is the durability mode. Defaults to SyncFull.
	Synchronous Sync
	// MaxKeySize is the largest KV key in bytes. Defaults to 2 KiB.
	MaxKeySize int
	// MaxValueSize is the largest KV value, and the largest string or blob a
	// SQL statement may store, in bytes. Defaults to 2 MiB.
	MaxValueSize int
	// MaxDatabaseSize is the largest database file of one object in bytes.
	// Defaults to 10 GiB.
	MaxDatabaseSize int64
	// Faults injects storage failures in tests. Nil in production.
	Faults *Faults
	// Timers hears of commits that change an object's timers. Optional.
	Timers TimerIndex
	// Log, if set, receives every committed batch before it is acknowledged
	// and restores objects when they are opened (cluster mode). Nil keeps
	// the store as it is on a single node.
	Log Log
	// Spares is how many new objects' files are kept ready, so that creating
	// an object does not wait for its files to be written. Defaults to
	// DefaultSpares; negative means none.
	Spares int
	// CheckpointAfter is how long an object stays out of memory before its
	// WAL is copied into its database and truncated, in the background, so
	// that an idle object's files hold only its data. Defaults to
	// DefaultCheckpointAfter; negative means never (a WAL then shrinks only
	// when SQLite checkpoints it as it grows).
	CheckpointAfter time.Duration
}

func (c *Config) fill() error {
	if c.Dir == "" {
		return errors.New("store: config: Dir: must be set")
	}
	switch c.Synchronous {
	case "":
		c.Synchronous = SyncFull
	case SyncFull, SyncNormal:
	default:
		return fmt.Errorf("store: config: Synchronous: must be %q or %q, got %q", SyncFull, SyncNormal, c.Synchronous)
	}
	if c.MaxKeySize == 0 {
		c.MaxKeySize = DefaultMaxKeySize
	}
	if c.MaxValueSize == 0 {
		c.MaxValueSize = DefaultMaxValueSize
	}
	if c.MaxDatabaseSize == 0 {
		c.MaxDatabaseSize = DefaultMaxDatabaseSize
	}
	if c.Spares == 0 {
		c.Spares = DefaultSpares
	}
	if c.CheckpointAfter == 0 {
		c.CheckpointAfter = DefaultCheckpointAfter
	}
	if c.MaxKeySize < 1 || c.MaxValueSize < 1 || c.MaxDatabaseSize < 64<<10 {
		return fmt.Errorf("store: config: limits must be positive and MaxDatabaseSize ≥ 64 KiB, got key %d, value %d, database %d",
			c.MaxKeySize, c.MaxValueSize, c.MaxDatabaseSize)
	}
	return nil
}

// Store opens the databases of objects beneath one data directory.
// It is safe for concurrent use.
type Store struct {
	cfg Config
	// root is the data directory; Roost's own file operations go through it.
	root *os.Root
	// abs is the data directory's absolute, symlink-free path: SQLite opens
	// files by name, through a VFS that refuses names outside it.
	abs string
	vfs *shimVFS
	// template holds the bytes of a new object's files once made (see
	// tmpl); tmplMu serializes their making.
	template atomic.Pointer[template]
	tmplMu   sync.Mutex
	// spares are new objects' files made ahead; nil if Config.Spares < 0.
	spares *spares
	// dirs holds the object directories known to exist.
	dirs sync.Map
	// ckpt checkpoints the WALs of objects that left memory; nil if
	// Config.CheckpointAfter < 0.
	ckpt *checkpointer
	// lock is the data directory's lock (see lockDir), released by Close.
	lock *os.File

	closeOnce sync.Once
	closeErr  error
}

// vfsSeq numbers the VFS registrations: SQLite finds a VFS by name, and each
// Store has its own.
var vfsSeq atomic.Int64

// objectsDir holds one directory per class.
const objectsDir = "objects"

// Open opens (creating if needed) the data directory of cfg.
func Open(cfg Config) (*Store, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s, err := open(cfg, lock)
	if err != nil {
		lock.Close() // a second time if the store closed it: harmless
		return nil, err
	}
	return s, nil
}

// open opens the data directory whose lock the caller took.
func open(cfg Config, lock *os.File) (*Store, error) {
	abs, err := filepath.Abs(cfg.Dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, fmt.Errorf("store: resolve data directory: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("store: open data directory: %w", err)
	}
	if err := root.MkdirAll(objectsDir, 0o700); err != nil {
		root.Close()
		return nil, fmt.Errorf("store: create objects directory: %w", err)
	}
	// What a crash left in .tmp (an import's upload, say) goes, which also
	// frees its space.
	if err := root.RemoveAll(".tmp"); err != nil {
		root.Close()
		return nil, fmt.Errorf("store: empty .tmp: %w", err)
	}
	s := &Store{cfg: cfg, root: root, abs: abs, lock: lock}
	name := "roost-" + strconv.FormatInt(vfsSeq.Add(1), 10)
	if s.vfs, err = newShimVFS(name, abs, cfg.Faults, cfg.Synchronous == SyncFull); err != nil {
		s.Close()
		return nil, err
	}
	// On a full disk the template is made at the first create instead:
	// Open must work, so that an operator can start the server and remove
	// data (issue 12).
	if _, err := s.tmpl(); err != nil && !diskFull(err) {
		s.Close()
		return nil, err
	}
	if cfg.Spares > 0 {
		if s.spares, err = openSpares(s, cfg.Spares); err != nil && !diskFull(err) {
			s.Close()
			return nil, err
		}
		// On a full disk the store opens without spares: creates write
		// their own files.
	}
	if cfg.CheckpointAfter > 0 {
		s.ckpt = startCheckpointer(s, cfg.CheckpointAfter)
	}
	return s, nil
}

// diskFull reports whether err is a full disk's (or quota's).
func diskFull(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrFull
	}
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// Close stops the spares' filler, releases the data directory and its
// lock. Every DB must be closed first. It is safe to call more than once:
// later calls return the first one's error.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var err error
		if s.ckpt != nil {
			s.ckpt.close()
		}
		if s.spares != nil {
			err = s.spares.close()
		}
		if s.vfs != nil {
			s.vfs.close()
		}
		s.closeErr = errors.Join(err, s.root.Close(), s.lock.Close())
	})
	return s.closeErr
}

// Config returns the store's configuration with defaults filled in.
func (s *Store) Config() Config { return s.cfg }

// Path is the database file of an object, relative to the data directory.
// Only a validated class name and an ID ever make up the path.
func Path(class string, id ids.ID) string {
	h := id.String()
	return path.Join(objectsDir, class, h[:2], h+".db")
}

// Exists reports whether the object has a database file. An empty file is
// none: older versions could leave one behind when killed in the middle of
// a create, and the next create replaces it.
func (s *Store) Exists(class string, id ids.ID) (bool, error) {
	fi, err := s.root.Stat(Path(class, id))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil && fi.Size() > 0, err
}

// Open returns the object's database. A database file is created only when
// the object first writes; until then reads see an empty store. The caller
// must Close it, and must not open the same object twice at once. With a
// [Config.Log], the Log's Restore runs first, and its error is Open's.
func (s *Store) Open(class string, id ids.ID) (*DB, error) {
	if err := ids.ValidClass(class); err != nil {
		return nil, err
	}
	db := newDB(s, class, id)
	if s.ckpt != nil {
		s.ckpt.take(db.path)
	}
	if err := db.open(class, id); err != nil {
		if s.ckpt != nil {
			s.ckpt.release(db.path)
		}
		return nil, err
	}
	return db, nil
}

// open restores the object's file (with a Log) and connects to it if it
// exists.
func (db *DB) open(class string, id ids.ID) error {
	s := db.s
	if s.cfg.Log != nil {
		if err := s.restore(class, id); err != nil {
			return err
		}
	}
	ok, err := s.Exists(class, id)
	if err != nil {
		return fmt.Errorf("store: stat %s: %w", db.path, err)
	}
	if ok {
		return db.connect()
	}
	return nil
}

// kvSchema is the table that holds the KV API's pairs. Its name starts with
// the prefix that user SQL may not touch.
const kvSchema = `CREATE TABLE _roost_kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID`

// applicationID marks Roost's files ("ROST"): `sqlite3 x.db 'PRAGMA application_id'`.
const applicationID = 0x524f5354

// tmpl returns the bytes of a new object's files, making them if Open
// could not (on a full disk). A failure is returned, and the next call
// tries again.
func (s *Store) tmpl() (template, error) {
	if t := s.template.Load(); t != nil {
		return *t, nil
	}
	s.tmplMu.Lock()
	defer s.tmplMu.Unlock()
	if t := s.template.Load(); t != nil {
		return *t, nil
	}
	t, err := s.makeTemplate()
	if err != nil {
		return template{}, err
	}
	s.template.Store(&t)
	return t, nil
}

// makeTemplate builds the files of a new, empty object: the database (WAL
// mode, the KV table, page size) and a WAL that already holds one committed,
// no-op transaction. Creating an object from them costs two file writes
// instead of a journal-mode switch and a schema transaction; and since its
// WAL is not empty, the object's first commit appends to it without first
// writing and syncing a new WAL header: one fsync less per new object.
func (s *Store) makeTemplate() (tmpl template, err error) {
	tmp := path.Join(".tmp", "template-"+strconv.Itoa(os.Getpid()))
	if err := s.root.MkdirAll(tmp, 0o700); err != nil {
		return tmpl, fmt.Errorf("store: template: %w", err)
	}
	defer s.root.RemoveAll(tmp)
	file := path.Join(tmp, "template.db")
	conn, err := s.dial(file, true)
	if err != nil {
		return tmpl, fmt.Errorf("store: template: %w", err)
	}
	defer conn.Close()
	_, err = conn.Exec(`PRAGMA page_size=4096; PRAGMA journal_mode=WAL; PRAGMA application_id=`+
		strconv.Itoa(applicationID)+`; `+kvSchema+`; PRAGMA wal_checkpoint(TRUNCATE);
		BEGIN; INSERT INTO _roost_kv VALUES ('', x''); DELETE FROM _roost_kv; COMMIT;`, nil)
	if err != nil {
		return tmpl, fmt.Errorf("store: template: %w", err)
	}
	// Read both files while the connection still holds them: closing would
	// checkpoint the WAL away.
	if tmpl.db, err = s.root.ReadFile(file); err == nil {
		tmpl.wal, err = s.root.ReadFile(file + "-wal")
	}
	if err == nil && (len(tmpl.db) == 0 || len(tmpl.wal) == 0) {
		err = errors.New("empty template file")
	}
	if err != nil {
		return tmpl, fmt.Errorf("store: template: %w", err)
	}
	return tmpl, nil
}

// template holds the bytes of a new object's files.
type template struct{ db, wal []byte }

// dial opens a connection to file (relative to the data directory) through
// the store's VFS. Only the template is ever created this way: objects'
// files are written from it by create.
func (s *Store) dial(file string, create bool) (*sqlite3.SQLiteConn, error) {
	mode := "rw"
	if create {
		mode = "rwc"
	}
	// The path is escaped: a data directory may contain '?', '#' or '%'.
	p := (&url.URL{Path: filepath.Join(s.abs, filepath.FromSlash(file))}).EscapedPath()
	dsn := "file:" + p + "?mode=" + mode + "&vfs=" + s.vfs.name + "&_busy_timeout=0&_locking_mode=EXCLUSIVE"
	c, err := (&sqlite3.SQLiteDriver{}).Open(dsn)
	if err != nil {
		return nil, err
	}
	return c.(*sqlite3.SQLiteConn), nil
}

// create makes a new object's files from the template (a spare's, if one
// is ready). No database file means no object: a WAL, or a half-written
// database under its temporary name, left by a crash in the middle of a
// create is garbage, and is overwritten; the database appears under its
// name only once its bytes are durable, so a crash never leaves a partial
// one.
//
// With SyncFull, the directory's new entries are made durable by the
// object's first commit, at the same time as the commit's own sync (see
// [newFiles]): create returns the directory for that. (The WAL's bytes are
// synced by that commit too: a WAL whose template bytes were lost in a
// power failure reads as empty, and then nothing was acknowledged.) With
// SyncNormal, commits are not synced either: what a process crash cannot
// lose (the page cache keeps it) is enough, and create returns nil.
func (s *Store) create(file string) (*newFiles, error) {
	dir := path.Dir(file)
	if err := s.ensureDir(dir); err != nil {
		return nil, err
	}
	// One handle on the directory: each file operation below is then one
	// system call, not one per path component (they are costly in VMs).
	d, err := s.root.Open(dir)
	if err != nil {
		return nil, err
	}
	nf := &newFiles{s: s, dir: d, fd: int(d.Fd()), base: path.Base(file)}
	full := s.cfg.Synchronous == SyncFull
	took := false
	if s.spares != nil {
		if took, err = s.spares.take(nf.fd, nf.base); took && err == nil {
			unix.Unlinkat(nf.fd, nf.base+newSuffix, 0) // left by a crash in a create that wrote its files
		}
	}
	var t template
	if !took && err == nil {
		t, err = s.tmpl()
	}
	if !took && err == nil {
		err = writeAt(nf.fd, nf.base+"-wal", t.wal, false)
		if err == nil {
			err = s.cfg.Faults.check(OpSync, nf.base)
		}
		if err == nil {
			err = writeAt(nf.fd, nf.base+newSuffix, t.db, full)
		}
		if err == nil {
			err = unix.Renameat(nf.fd, nf.base+newSuffix, nf.fd, nf.base)
		}
	}
	if err != nil {
		nf.undo()
		return nil, err
	}
	if !full {
		nf.close()
		return nil, nil
	}
	return nf, nil
}

// newFiles is the directory of an object created with SyncFull, held until
// its new entries are durable.
type newFiles struct {
	s    *Store
	dir  *os.File
	fd   int
	base string
}

// sync makes the directory's entries durable.
func (nf *newFiles) sync() error {
	err := nf.s.cfg.Faults.check(OpSync, nf.base+" directory")
	if err == nil {
		err = nf.dir.Sync()
	}
	if err != nil {
		return fmt.Errorf("sync the new object's directory: %w", err)
	}
	return nil
}

// undo removes the object's files and releases the directory: the object
// is as if never created.
func (nf *newFiles) undo() {
	unix.Unlinkat(nf.fd, nf.base, 0)
	unix.Unlinkat(nf.fd, nf.base+newSuffix, 0)
	unix.Unlinkat(nf.fd, nf.base+"-wal", 0)
	nf.close()
}

func (nf *newFiles) close() { nf.dir.Close() }

// newSuffix marks a database file being created.
const newSuffix = ".new"

// ensureDir creates an object directory (a class's shard) and makes its
// entry durable, unless it is known to exist: Roost never removes one.
func (s *Store) ensureDir(dir string) error {
	if _, ok := s.dirs.Load(dir); ok {
		return nil
	}
	if _, err := s.root.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := s.root.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		for d := path.Dir(dir); ; d = path.Dir(d) {
			if err := syncDir(s.root, d); err != nil {
				return err
			}
			if d == objectsDir || d == "." {
				break
			}
		}
	} else if err != nil {
		return err
	}
	s.dirs.Store(dir, struct{}{})
	return nil
}

// remove deletes an object's files. The database goes first: without it
// there is no object (see create), so a crash midway leaves garbage that
// the next create overwrites, never an old version of the object resurrected
// from a database whose WAL is gone.
func (s *Store) remove(file string) error {
	for _, f := range []string{file, file + "-wal", file + "-journal", file + newSuffix} {
		if err := s.root.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return syncDir(s.root, path.Dir(file))
}

// syncDir makes the entries of a directory durable.
func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
