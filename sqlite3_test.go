package roost

import (
	"bytes"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SQLite3 runs the sqlite3 shell on file with sql and returns its trimmed
// output. The shell is a test dependency (.ci/run installs it): if it is
// missing the test fails, it never skips. The app that owns file must be
// closed first (its databases are opened in exclusive locking mode).
func SQLite3(t testing.TB, file, sql string) string {
	t.Helper()
	bin, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatalf("the sqlite3 shell is required to check database files (install it: apt-get install sqlite3, as .ci/run does): %v", err)
	}
	cmd := exec.Command(bin, "-batch", "-bail", file, sql)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sqlite3 %s %q: %v\n%s", file, sql, err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out))
}

// CheckIntegrity runs PRAGMA integrity_check with the sqlite3 shell on every
// database file beneath dir and fails the test unless each answers ok. It
// returns how many files it checked.
func CheckIntegrity(t testing.TB, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".db") {
			return err
		}
		if d.Name() == "catalog.db" { // the node's, not an object's
			return nil
		}
		n++
		if got := SQLite3(t, path, "PRAGMA integrity_check"); got != "ok" {
			t.Errorf("integrity_check of %s: %s", path, got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return n
}
