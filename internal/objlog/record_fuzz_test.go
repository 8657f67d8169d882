package objlog

import (
	"bytes"
	"testing"

	"github.com/roost-dev/roost/internal/store"
)

// FuzzDecode: no record read from the log, however damaged, panics the
// decoder, and whatever decodes re-encodes to the same chain link.
func FuzzDecode(f *testing.F) {
	page := bytes.Repeat([]byte{7}, 4096)
	rec, _ := seal(KindCommit, 3, Sum{1}, &store.Changes{Pages: []store.Page{{No: 1, Data: page}}, Size: 1})
	fence, _ := seal(KindFence, 4, Sum{2}, nil)
	base, _ := seal(KindCommit, 1, Sum{}, &store.Changes{Base: page, Size: 1})
	f.Add(rec)
	f.Add(fence)
	f.Add(base)
	f.Add([]byte("RLG1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			return
		}
		again, after := seal(r.Kind, r.Epoch, r.Before, r.Changes)
		if after != r.After && r.Kind == KindFence {
			t.Fatalf("a fence decoded but re-sealed to another link")
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("a re-sealed record does not decode: %v", err)
		}
	})
}

func TestRecordRoundTrip(t *testing.T) {
	page := bytes.Repeat([]byte("roost"), 4096/5+1)[:4096]
	ch := &store.Changes{Base: []byte("base image"), Pages: []store.Page{{No: 2, Data: page}, {No: 1, Data: page}}, Size: 2}
	data, after := seal(KindCommit, 9, Sum{5}, ch)
	r, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindCommit || r.Epoch != 9 || r.Before != (Sum{5}) || r.After != after {
		t.Fatalf("header: %+v", r)
	}
	got := r.Changes
	if string(got.Base) != "base image" || got.Size != 2 || len(got.Pages) != 2 || got.Pages[0].No != 2 || !bytes.Equal(got.Pages[1].Data, page) {
		t.Fatalf("changes: %+v", got)
	}
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x40
		if _, err := Decode(bad); err == nil {
			t.Fatalf("a record with byte %d flipped decoded", i)
		}
	}
}
