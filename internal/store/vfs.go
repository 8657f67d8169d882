package store

/*
#include <stdlib.h>
#include "vfs_shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"runtime/cgo"
	"unsafe"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// shimVFS is Roost's SQLite VFS for one store: a thin C layer over SQLite's
// "unix" VFS (vfs_shim.c). It
//   - refuses to open or delete any file that is not beneath the data
//     directory (after the unix VFS resolved symlinks in the path);
//   - cuts a WAL file back to its last synced length when an fsync fails, so
//     a commit SQLite reported as failed is never found by recovery after a
//     restart (the "fsyncgate" problem);
//   - injects the faults of [Faults] in tests.
type shimVFS struct {
	name   string
	vfs    *C.sqlite3_vfs
	faults cgo.Handle
}

func newShimVFS(name, root string, faults *Faults, undoWAL bool) (*shimVFS, error) {
	v := &shimVFS{name: name}
	var h C.uintptr_t
	if faults != nil {
		v.faults = cgo.NewHandle(faults)
		h = C.uintptr_t(v.faults)
	}
	cname, croot := C.CString(name), C.CString(root)
	defer C.free(unsafe.Pointer(cname))
	defer C.free(unsafe.Pointer(croot))
	undo := C.int(0)
	if undoWAL {
		undo = 1
	}
	v.vfs = C.roost_vfs_new(cname, croot, h, undo)
	if v.vfs == nil {
		v.close()
		return nil, errors.New("store: register the SQLite VFS")
	}
	return v, nil
}

func (v *shimVFS) close() {
	if v.vfs != nil {
		C.roost_vfs_free(v.vfs)
		v.vfs = nil
	}
	if v.faults != 0 {
		v.faults.Delete()
		v.faults = 0
	}
}

//export roostFault
func roostFault(h C.uintptr_t, op C.int, name *C.char) C.int {
	f := cgo.Handle(h).Value().(*Faults)
	if f.check(Op(op), C.GoString(name)) != nil {
		return 1
	}
	return 0
}

// configureRaw applies the settings the driver has no API for, on the
// connection's sqlite3 handle (the driver keeps it in an unexported field;
// the field's presence is checked, so a driver change fails loudly here),
// and installs db's authorizer. The driver's own RegisterAuthorizer keeps
// its callbacks in one process-wide map that every Close walks: with
// thousands of open objects that walk was a tenth of an activation's CPU.
// The returned handle must be deleted after the connection is closed.
func configureRaw(conn *sqlite3.SQLiteConn, db *DB) (cgo.Handle, error) {
	f := reflect.ValueOf(conn).Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() {
		return 0, errors.New("store: the SQLite driver has no raw handle to configure")
	}
	h := cgo.NewHandle(db)
	if rc := C.roost_db_configure(unsafe.Pointer(f.Pointer()), C.uintptr_t(h)); rc != 0 {
		h.Delete()
		return 0, fmt.Errorf("store: configure the connection: SQLite code %d", int(rc))
	}
	return h, nil
}

//export roostAuthorize
func roostAuthorize(h C.uintptr_t, action C.int, a, b, schema, inner *C.char) C.int {
	db := cgo.Handle(h).Value().(*DB)
	return C.int(db.authorize(int(action), goString(a), goString(b), goString(schema), goString(inner)))
}

func goString(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}
