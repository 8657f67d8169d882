package yupdate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// session is a fixture: an editing session recorded with real yjs by
// clients/ts/scripts/yfixtures.mjs.
type session struct {
	Updates     []string          `json:"updates"`
	StateVector map[string]uint64 `json:"stateVector"`
	DocBytes    int               `json:"docBytes"`
	updates     [][]byte
	sv          map[uint64]uint64
}

func loadSession(t testing.TB, name string) *session {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	for _, u := range s.Updates {
		b, err := base64.StdEncoding.DecodeString(u)
		if err != nil {
			t.Fatal(err)
		}
		s.updates = append(s.updates, b)
	}
	s.sv = map[uint64]uint64{}
	for c, clock := range s.StateVector {
		n, err := strconv.ParseUint(c, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		s.sv[n] = clock
	}
	return &s
}

var sessions = []string{"typing", "concurrent"}

func merge(t testing.TB, updates ...[]byte) []byte {
	t.Helper()
	m, err := Merge(updates...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func stateVector(t testing.TB, update []byte) map[uint64]uint64 {
	t.Helper()
	u, err := Decode(update)
	if err != nil {
		t.Fatal(err)
	}
	return u.StateVector()
}

// Every update yjs wrote decodes and encodes back to the same bytes.
func TestDecode_EncodesBackWhatYjsWrote(t *testing.T) {
	for _, name := range sessions {
		for i, b := range loadSession(t, name).updates {
			u, err := Decode(b)
			if err != nil {
				t.Fatalf("%s: update %d: %v", name, i, err)
			}
			if got := u.Encode(); !bytes.Equal(got, b) {
				t.Fatalf("%s: update %d encodes to\n%x\nwant\n%x", name, i, got, b)
			}
		}
	}
}

// The merge of a session's updates covers what the converged document
// covers, in a size that tracks the document's rather than the history's.
func TestMerge_CoversTheDocumentInItsSize(t *testing.T) {
	for _, name := range sessions {
		s := loadSession(t, name)
		m := merge(t, s.updates...)
		if sv := stateVector(t, m); !maps.Equal(sv, s.sv) {
			t.Errorf("%s: the merge's state vector is %v, the document's %v", name, sv, s.sv)
		}
		history := 0
		for _, u := range s.updates {
			history += len(u)
		}
		t.Logf("%s: %d updates of %d bytes merge into %d bytes; the document encodes to %d", name, len(s.updates), history, len(m), s.DocBytes)
		if len(m) > 2*s.DocBytes {
			t.Errorf("%s: the merge takes %d bytes, more than twice the document's %d", name, len(m), s.DocBytes)
		}
	}
}

// A merge does not depend on the order of the updates, duplicates, or
// earlier merges of some of them.
func TestMerge_IsOrderFreeAndIdempotent(t *testing.T) {
	for _, name := range sessions {
		s := loadSession(t, name)
		want := merge(t, s.updates...)
		rng := rand.New(rand.NewPCG(1, 2))
		for round := range 5 {
			in := append([][]byte(nil), s.updates...)
			in = append(in, s.updates[:rng.IntN(len(s.updates))]...)
			rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
			cut := rng.IntN(len(in))
			got := merge(t, merge(t, in[:cut]...), merge(t, in[cut:]...))
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: round %d: merging shuffled updates with duplicates gives %d bytes, not the %d of the plain merge", name, round, len(got), len(want))
			}
			if again := merge(t, got); !bytes.Equal(again, want) {
				t.Fatalf("%s: merging a merge changes it", name)
			}
		}
	}
}

// A peer that holds part of a session and applies the diff against its
// state vector holds all of it.
func TestDiff_GivesAPeerWhatItLacks(t *testing.T) {
	for _, name := range sessions {
		s := loadSession(t, name)
		full := merge(t, s.updates...)
		for _, cut := range []int{0, 1, len(s.updates) / 3, len(s.updates) - 1, len(s.updates)} {
			part := merge(t, s.updates[:cut]...)
			diff, err := Diff(full, stateVector(t, part))
			if err != nil {
				t.Fatal(err)
			}
			if got := merge(t, part, diff); !bytes.Equal(got, full) {
				t.Fatalf("%s: cut %d: the part and its diff merge into %d bytes, not the %d of the whole", name, cut, len(got), len(full))
			}
			if cut == len(s.updates) && len(diff) > 64+len(full)-countStructBytes(t, full) {
				t.Errorf("%s: the diff for a peer that has everything takes %d bytes", name, len(diff))
			}
		}
	}
}

// countStructBytes returns the bytes of update's structs, without its
// delete set.
func countStructBytes(t testing.TB, update []byte) int {
	u, err := Decode(update)
	if err != nil {
		t.Fatal(err)
	}
	e := &encoder{}
	u.Deleted.encode(e)
	return len(update) - len(e.b)
}

func TestStateVector_RoundTrips(t *testing.T) {
	sv := map[uint64]uint64{1: 5, 1 << 40: 1 << 52, 77: 1}
	got, err := DecodeStateVector(EncodeStateVector(sv))
	if err != nil || !maps.Equal(got, sv) {
		t.Fatalf("%v, %v; want %v", got, err, sv)
	}
	if _, err := DecodeStateVector([]byte{5, 1}); err == nil {
		t.Fatal("a truncated state vector decoded")
	}
}

func TestDecode_RefusesMalformedUpdates(t *testing.T) {
	valid := loadSession(t, "concurrent").updates[3]
	for name, b := range map[string][]byte{
		"empty":               {},
		"truncated":           valid[:len(valid)-1],
		"huge count":          {0xff, 0xff, 0xff, 0xff, 0x0f},
		"zero length":         {1, 1, 5, 0, 0, 0, 0},
		"unknown content":     {1, 1, 5, 0, 0x0b, 1, 0},
		"integer of 11 bytes": {1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
		if _, err := Merge(valid, b); err == nil {
			t.Errorf("%s: merged", name)
		}
	}
}

func BenchmarkMerge(b *testing.B) {
	s := loadSession(b, "concurrent")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Merge(s.updates...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(s.updates)), "updates/op")
}

func TestDeleteSet_Covers(t *testing.T) {
	ds := DeleteSet{1: {{0, 5}, {10, 2}}}
	ds.Add(DeleteSet{1: {{5, 1}}, 2: {{3, 1}}})
	for _, c := range []struct {
		other DeleteSet
		want  bool
	}{
		{DeleteSet{1: {{0, 6}}}, true},
		{DeleteSet{1: {{2, 3}, {11, 1}}, 2: {{3, 1}}}, true},
		{DeleteSet{1: {{5, 2}}}, false},
		{DeleteSet{1: {{9, 1}}}, false},
		{DeleteSet{3: {{0, 1}}}, false},
		{DeleteSet{}, true},
	} {
		if got := ds.Covers(c.other); got != c.want {
			t.Errorf("%v covers %v = %v, want %v", ds, c.other, got, c.want)
		}
	}
}
