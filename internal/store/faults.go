package store

import (
	"strings"
	"sync"
	"syscall"
)

// Op names a file operation that [Faults] can fail.
type Op int

// The operations a fault can target.
const (
	OpWrite Op = iota + 1 // a write to a database or WAL file; fails as a full disk (ENOSPC)
	OpSync                // an fsync of a database or WAL file; fails as an I/O error (EIO)
)

// Faults injects storage failures below SQLite, in the VFS, for tests of what
// users are promised on failing disks. The zero value injects nothing; a nil
// *Faults is valid and injects nothing (production).
type Faults struct {
	mu sync.Mutex // guards rules
	// rules are consumed in order; each fails Count matching calls.
	rules []*faultRule
	// full is set when a write failed with ENOSPC (see tookFull).
	full bool
}

type faultRule struct {
	op     Op
	substr string
	count  int
}

// Fail makes the next count operations op on files whose path contains substr
// fail (substr "" matches every file). Writes fail with ENOSPC, syncs with EIO.
func (f *Faults) Fail(op Op, substr string, count int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &faultRule{op: op, substr: substr, count: count})
}

// Clear removes every pending fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

func (f *Faults) check(op Op, name string) error {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.rules {
		if r.op != op || !strings.Contains(name, r.substr) {
			continue
		}
		r.count--
		if r.count <= 0 {
			f.rules = append(f.rules[:i], f.rules[i+1:]...)
		}
		if op == OpWrite {
			f.full = true
			return syscall.ENOSPC
		}
		return syscall.EIO
	}
	return nil
}

// tookFull reports, once, whether a write failed with ENOSPC since the last
// call: the store then reports a full disk, not the database size limit.
func (f *Faults) tookFull() bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	full := f.full
	f.full = false
	return full
}
