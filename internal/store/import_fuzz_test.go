package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/roost-dev/roost/internal/errcode"
)

// FuzzImport feeds Import files that an operator could upload: mutations of
// a real exported object. Whatever the bytes, Import must either refuse them
// with a client error (and leave the object as it was) or produce an object
// that works and passes integrity_check.
func FuzzImport(f *testing.F) {
	seed := func() []byte {
		s := newStore(f, Config{})
		db := openDB(f, s, objID("seed"))
		fillObject(f, db)
		b, err := os.ReadFile(export(f, db))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}()
	f.Add(seed)
	f.Add(seed[:4096])
	f.Add([]byte("SQLite format 3\x00"))
	corrupt := append([]byte(nil), seed...)
	for i := 100; i < len(corrupt); i += 512 {
		corrupt[i] ^= 0x5a
	}
	f.Add(corrupt)
	f.Fuzz(func(t *testing.T, file []byte) {
		s := newStore(t, Config{})
		db := openDB(t, s, objID("target"))
		put(t, db, "keep", "me")
		src := filepath.Join(t.TempDir(), "upload.sqlite")
		if err := os.WriteFile(src, file, 0o600); err != nil {
			t.Fatal(err)
		}
		err := db.Import(t.Context(), src, true)
		if err != nil {
			switch code := errcode.Of(err); code {
			case errcode.BadRequest, errcode.LimitExceeded:
			default:
				t.Fatalf("Import failed with code %s (want bad_request or limit_exceeded): %v", code, err)
			}
			wantValue(t, db, "keep", "me")
			wantIntegrity(t, db)
			return
		}
		wantIntegrity(t, db)
		put(t, db, "after", "import")
		db = reopen(t, s, db)
		wantValue(t, db, "after", "import")
	})
}
