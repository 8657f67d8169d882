package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roost-dev/roost"
)

// mountTmpfs mounts a tmpfs of size (such as "8m") for the test: a disk
// that really fills up. Mounting needs root; CI runs as root and sets
// ROOST_TEST_MOUNT=required, so that there the test fails instead of
// skipping.
func mountTmpfs(t testing.TB, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		if os.Getenv("ROOST_TEST_MOUNT") == "required" {
			t.Fatalf("mount a tmpfs at %s: %v (ROOST_TEST_MOUNT=required: run as root)", dir, err)
		}
		t.Skipf("skipped: the full-disk test mounts a tmpfs, which needs root (CI runs it as root with ROOST_TEST_MOUNT=required): %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes a file in dir until the disk is full, and returns it.
func fillDisk(t testing.TB, dir string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "filler-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for chunk := len(buf); chunk >= 512; {
		if _, err := f.Write(buf[:chunk]); errors.Is(err, syscall.ENOSPC) {
			chunk /= 2
		} else if err != nil {
			t.Fatal(err)
		}
	}
	return f.Name()
}

// incrementStatus posts an increment and returns the status.
func incrementStatus(t testing.TB, url, name string) int {
	t.Helper()
	resp, err := http.Post(url+"/counter/"+name+"/increment", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Not parallel: it mounts a file system (and fills it).
func TestObjects_AFullDiskLetsTheOperatorListRemoveAndRestart(t *testing.T) {
	disk := mountTmpfs(t, "8m")
	data := filepath.Join(disk, "data")
	srv, app := serveAdmin(t, roost.Config{Dir: data})
	s := "--server=" + srv.URL
	for i := range 40 {
		increment(t, srv, "small-"+strconv.Itoa(i), 1)
	}
	for _, name := range []string{"big", "big-2"} { // 2 MB each, with their WAL
		_, err := app.Admin().SQL(t.Context(), roost.ObjectRef{Class: "counter", Name: name}, roost.AdminQuery{Write: true,
			Query: "CREATE TABLE b (x); INSERT INTO b VALUES (zeroblob(1000000))"})
		if err != nil {
			t.Fatalf("fill object %s: %v", name, err)
		}
	}
	mustCLI(t, "objects", "ls", s) // the inventory is written
	fillDisk(t, disk)
	if status := incrementStatus(t, srv.URL, "new"); status != http.StatusInsufficientStorage {
		t.Fatalf("a new object on the full disk: %d, want 507", status)
	}

	// The operator lists the objects and removes the big one: its space
	// comes back, and writes work again. When the inventory cannot write
	// its latest changes (small's activity), a current listing answers
	// 507, never an internal error; --stale lists it as last written.
	for i := range 40 {
		incrementStatus(t, srv.URL, "small-"+strconv.Itoa(i))
	}
	if _, _, err := roostCLI(t, "objects", "ls", s); err != nil && !strings.HasPrefix(err.Error(), "storage_full: ") {
		t.Fatalf("ls on a full disk: %v, want a listing or storage_full", err)
	} else {
		t.Logf("ls on a full disk: %v", err)
	}
	out, errOut, err := roostCLI(t, "objects", "ls", "--sort", "size", "--stale", s)
	if err != nil || !strings.Contains(out, "big") {
		t.Fatalf("ls --stale on a full disk: %v\n%s\n%s", err, out, errOut)
	}
	if out, errOut, err := roostCLI(t, "objects", "rm", "counter", "big", "--yes", s); err != nil {
		t.Fatalf("rm on a full disk: %v\n%s\n%s", err, out, errOut)
	}
	if status := incrementStatus(t, srv.URL, "new"); status != http.StatusOK {
		t.Fatalf("a new object after rm freed space: %d, want 200", status)
	}

	// A server stopped on a full disk starts again on it (a new object's
	// template, the inventory's check of the disk: neither may need space).
	fillDisk(t, disk)
	srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	app.Close(ctx) // its last inventory changes may not fit: the next start checks the disk
	fillDisk(t, disk)
	srv, _ = serveAdmin(t, roost.Config{Dir: data})
	s = "--server=" + srv.URL
	out, errOut, err = roostCLI(t, "objects", "ls", "--stale", s)
	if err != nil || !strings.Contains(out, "big-2") {
		t.Fatalf("ls --stale after a restart on a full disk: %v\n%s\n%s", err, out, errOut)
	}
	if out, errOut, err := roostCLI(t, "objects", "rm", "counter", "big-2", "--yes", s); err != nil {
		t.Fatalf("rm after a restart on a full disk: %v\n%s\n%s", err, out, errOut)
	}
	if status := incrementStatus(t, srv.URL, "later"); status != http.StatusOK {
		t.Fatalf("a new object after rm freed space: %d, want 200", status)
	}
}
