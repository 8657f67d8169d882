package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// TestIsolation_VFSRefusesFilesOutsideDataDir opens SQLite connections
// through the store's VFS directly, below the authorizer, with crafted
// names: the VFS must refuse every file that is not beneath the data
// directory, however it is spelled.
func TestIsolation_VFSRefusesFilesOutsideDataDir(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	s := newStore(t, Config{Dir: dir})
	if err := os.WriteFile(filepath.Join(base, "x.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, objectsDir, "link")
	if err := os.Symlink(base, link); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, base)

	open := func(dsn string) error {
		c, err := (&sqlite3.SQLiteDriver{}).Open(dsn)
		if err != nil {
			return err
		}
		// The file is opened lazily: make SQLite read (and create) it.
		_, err = c.(*sqlite3.SQLiteConn).Exec("CREATE TABLE IF NOT EXISTS t (x)", nil)
		c.Close()
		return err
	}
	escapes := []struct {
		name string
		file string // relative to the data directory, or absolute
	}{
		{name: "parent", file: "../escape.db"},
		{name: "parent of existing", file: "../x.db"},
		{name: "dot dot inside", file: "objects/../../escape.db"},
		{name: "deep dot dot", file: "objects/thing/../../../escape.db"},
		{name: "absolute outside", file: filepath.Join(base, "escape.db")},
		{name: "absolute etc", file: "/etc/passwd"},
		{name: "root prefix sibling", file: dir + "-sibling/escape.db"},
		{name: "symlink out", file: "objects/link/escape.db"},
		{name: "symlink out existing", file: "objects/link/x.db"},
	}
	for _, e := range escapes {
		file := e.file
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		if err := open("file:" + file + "?mode=rwc&vfs=" + s.vfs.name); err == nil {
			t.Errorf("%s: opening %s through the VFS succeeded, want it refused", e.name, e.file)
		}
	}

	// Files that SQLite opens on behalf of a connection go through its VFS
	// too: ATTACH and VACUUM INTO are refused below the authorizer.
	c, err := s.dial("objects/raw.db", true)
	if err != nil {
		t.Fatalf("dial a file beneath the data directory: %v", err)
	}
	for _, q := range []string{
		"ATTACH '" + filepath.Join(base, "attached.db") + "' AS a",
		"ATTACH 'file:" + filepath.Join(dir, "..", "attached.db") + "' AS a",
		"ATTACH '" + filepath.Join(link, "attached.db") + "' AS a",
		"VACUUM INTO '" + filepath.Join(base, "copy.db") + "'",
	} {
		if _, err := c.Exec(q, nil); err == nil {
			t.Errorf("%s through the VFS succeeded, want it refused", q)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	after := snapshot(t, base)
	for p := range after {
		if strings.HasPrefix(p, filepath.Join("data", objectsDir, "raw.db")) {
			delete(after, p)
		}
	}
	if d := diffSnapshots(before, after); d != "" {
		t.Fatalf("files changed:\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(dir, objectsDir, "raw.db")); err != nil {
		t.Fatalf("the file beneath the data directory was not created: %v", err)
	}
}
