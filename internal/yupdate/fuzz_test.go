package yupdate

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds the decoder the bytes a client could send: whatever
// decodes encodes back to bytes that decode the same, and merges and
// diffs of it never panic.
func FuzzDecode(f *testing.F) {
	s := loadSession(f, "concurrent")
	for _, u := range s.updates[:20] {
		f.Add(u)
	}
	f.Add(merge(f, s.updates...)[:200])
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := Decode(b)
		if err != nil {
			return
		}
		enc := u.Encode()
		u2, err := Decode(enc)
		if err != nil {
			t.Fatalf("an update decoded, but its encoding does not: %v", err)
		}
		if again := u2.Encode(); !bytes.Equal(again, enc) {
			t.Fatalf("encodings differ:\n%x\n%x", enc, again)
		}
		m, err := Merge(b, b)
		if err != nil {
			t.Fatalf("a decoded update does not merge: %v", err)
		}
		if _, err := Diff(m, u.StateVector()); err != nil {
			t.Fatalf("diff of a merge: %v", err)
		}
	})
}
