// Package proc builds Go binaries once per test binary and runs them as
// subprocesses of a test: it captures their output (to a file and to a
// bounded tail for failure messages), finds the address they listen on from
// their "listening" log line, waits for an HTTP readiness path, and kills,
// pauses (SIGSTOP), resumes (SIGCONT) or stops them. Every process started
// here is killed and waited for by t.Cleanup, so none outlives its test, even
// a failed one.
//
// It serves the tests under test/ that run real binaries: test/crash,
// test/hardening and the cluster harness (test/internal/cluster).
package proc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// RoostPkg is the import path of the roost command.
const RoostPkg = "github.com/roost-dev/roost/cmd/roost"

// builds caches the binaries built by this test binary.
var builds struct {
	mu   sync.Mutex        // guards the fields below
	dir  string            // temporary directory holding the binaries; made on first use
	bins map[string]*built // by import path
}

// built is one package's build, done once.
type built struct {
	once sync.Once
	path string
	err  error
}

// Main runs the tests of a package that uses proc: it calls m.Run, removes
// the binaries built meanwhile and, if the tests passed, fails on a leaked
// goroutine. Call it from TestMain: os.Exit(proc.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	builds.mu.Lock()
	dir := builds.dir
	builds.mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			return 1
		}
	}
	return code
}

// Roost returns the path of the roost binary, built from ./cmd/roost the
// first time a test of this test binary asks for it.
func Roost(t testing.TB) string {
	t.Helper()
	return Build(t, RoostPkg)
}

// Build returns the path of a binary built from the main package pkg (an
// import path), building it on first use; concurrent callers wait for the
// one build. A failed build fails every test that asks for it. The binaries
// live in a temporary directory that Main removes.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	b := lookup(pkg)
	b.once.Do(func() { b.path, b.err = build(pkg) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// lookup returns the cache entry of pkg, making it if needed.
func lookup(pkg string) *built {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.bins == nil {
		builds.bins = make(map[string]*built)
	}
	b := builds.bins[pkg]
	if b == nil {
		b = &built{}
		builds.bins[pkg] = b
	}
	return b
}

// build runs go build for pkg into the cache directory.
func build(pkg string) (string, error) {
	dir, err := buildDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, strings.ReplaceAll(pkg, "/", "_"))
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// buildDir returns the cache directory, making it on first use.
func buildDir() (string, error) {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.dir != "" {
		return builds.dir, nil
	}
	dir, err := os.MkdirTemp("", "roost-bin-")
	if err != nil {
		return "", fmt.Errorf("make build dir: %w", err)
	}
	builds.dir = dir
	return dir, nil
}
