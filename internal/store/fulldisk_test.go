package store

import (
	"testing"

	"github.com/roost-dev/roost/internal/errcode"
)

// TestAdmin_RemoveWritesNothingSoItWorksOnAFullDisk: the operator frees
// space by removing an object, so removing one must not need space: DeleteAll
// deletes its rows in a transaction first, which fails on a full disk.
func TestAdmin_RemoveWritesNothingSoItWorksOnAFullDisk(t *testing.T) {
	t.Parallel()
	faults, s, db := faultyDB(t)
	put(t, db, "big", string(make([]byte, 1<<20)))
	faults.Fail(OpWrite, "", 1<<20) // every write fails as on a full disk
	if err := db.Remove(t.Context()); err != nil {
		t.Fatalf("Remove on a full disk: %v", err)
	}
	wantExists(t, s, db.ID(), false)
	wantCode(t, db.Remove(t.Context()), errcode.NotFound)
	faults.Clear()
	put(t, db, "again", "1") // the object is new again
	wantValue(t, db, "again", "1")
	wantMissing(t, db, "big")
}

// TestStore_OpensOnAFullDisk: a server must start on a full disk so that
// the operator can remove data. The template of new objects, which Open
// used to write, is then made at the first create that has room.
func TestStore_OpensOnAFullDisk(t *testing.T) {
	t.Parallel()
	faults := &Faults{}
	faults.Fail(OpWrite, "", 1<<20) // every write fails as on a full disk
	s := newStore(t, Config{Faults: faults, Spares: -1})
	db := openDB(t, s, objID("new"))
	if err := db.Put(t.Context(), "k", []byte("v")); errcode.Of(err) != errcode.StorageFull {
		t.Fatalf("Put on a full disk: %v, want storage_full", err)
	}
	faults.Clear()
	put(t, db, "k", "v")
	wantValue(t, db, "k", "v")
	wantIntegrity(t, db)
}
