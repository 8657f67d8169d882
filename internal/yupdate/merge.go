package yupdate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Merge merges updates into one that holds everything they hold, in the
// compact form a document would encode: each struct once, the content of
// deleted items reduced to its length, and consecutive items of a client
// that a split would give back joined into one (a run of typed characters
// is one item). Applying the result is applying every update.
func Merge(updates ...[]byte) ([]byte, error) {
	all := &Update{Structs: map[uint64][]*Struct{}, Deleted: DeleteSet{}}
	for i, b := range updates {
		u, err := Decode(b)
		if err != nil {
			return nil, fmt.Errorf("update %d: %w", i, err)
		}
		for c, ss := range u.Structs {
			all.Structs[c] = append(all.Structs[c], ss...)
		}
		for c, rs := range u.Deleted {
			all.Deleted[c] = append(all.Deleted[c], rs...)
		}
	}
	all.Deleted.normalize()
	for c, ss := range all.Structs {
		ss = dedup(c, ss)
		ss = dropDeletedContent(c, ss, all.Deleted[c])
		all.Structs[c] = join(c, ss)
	}
	return all.Encode(), nil
}

// normalize sorts each client's ranges and joins those that overlap or
// touch.
func (ds DeleteSet) normalize() {
	for c, rs := range ds {
		slices.SortFunc(rs, func(a, b Range) int { return cmp.Compare(a.Clock, b.Clock) })
		out := rs[:0]
		for _, r := range rs {
			if n := len(out); n > 0 && r.Clock <= out[n-1].Clock+out[n-1].Length {
				last := &out[n-1]
				last.Length = max(last.Length, r.Clock+r.Length-last.Clock)
				continue
			}
			out = append(out, r)
		}
		ds[c] = out
	}
}

// dedup sorts a client's structs by clock and keeps each clock once:
// structs covered by earlier ones are dropped, those overlapping them
// sliced. Skips, which hold nothing, are dropped.
func dedup(client uint64, ss []*Struct) []*Struct {
	slices.SortStableFunc(ss, func(a, b *Struct) int {
		return cmp.Or(cmp.Compare(a.Clock, b.Clock), cmp.Compare(b.Length, a.Length))
	})
	out := ss[:0]
	for _, s := range ss {
		if s.ref() == refSkip {
			continue
		}
		if n := len(out); n > 0 {
			end := out[n-1].end()
			if s.end() <= end {
				continue
			}
			if s.Clock < end {
				s = slice(client, s, end-s.Clock, s.Length)
			}
		}
		out = append(out, s)
	}
	return out
}

// dropDeletedContent splits a client's items at the bounds of its deleted
// ranges and reduces the deleted parts' content to their length, as yjs's
// garbage collection does. Types and subdocuments keep theirs.
func dropDeletedContent(client uint64, ss []*Struct, deleted []Range) []*Struct {
	if len(deleted) == 0 {
		return ss
	}
	out := make([]*Struct, 0, len(ss))
	ri := 0
	for _, s := range ss {
		switch s.ref() {
		case refGC, refDeleted, refType, refDoc:
			out = append(out, s)
			continue
		}
		at := uint64(0) // offset of the part not yet added
		for at < s.Length {
			pos := s.Clock + at
			for ri < len(deleted) && deleted[ri].Clock+deleted[ri].Length <= pos {
				ri++
			}
			// [pos, next) is deleted (gone) or not, as a whole.
			gone, next := false, s.end()
			if ri < len(deleted) {
				if r := deleted[ri]; r.Clock <= pos {
					gone, next = true, min(next, r.Clock+r.Length)
				} else {
					next = min(next, r.Clock)
				}
			}
			part := slice(client, s, at, next-s.Clock)
			if gone {
				part.Info = part.Info&^refBits | refDeleted
				part.Text, part.Elems, part.Raw = "", nil, nil
			}
			out = append(out, part)
			at = next - s.Clock
		}
	}
	return out
}

// join joins each struct with the next where yjs would: GC ranges, and
// items of one run (the next one's origin the end of this one, the same
// right origin, no parent key) with content that merges.
func join(client uint64, ss []*Struct) []*Struct {
	out := ss[:0]
	var text strings.Builder
	flush := func() {
		if n := len(out); n > 0 && text.Len() > 0 {
			out[n-1].Text = text.String()
			text.Reset()
		}
	}
	for _, s := range ss {
		if n := len(out); n > 0 && joinable(client, out[n-1], s) {
			last := out[n-1]
			if last.ref() == refString && text.Len() == 0 {
				text.WriteString(last.Text)
			}
			last.Length += s.Length
			text.WriteString(s.Text)
			last.Elems = append(last.Elems, s.Elems...) // copies: decoded and sliced Elems have no spare capacity
			continue
		}
		flush()
		out = append(out, s)
	}
	flush()
	return out
}

func joinable(client uint64, a, b *Struct) bool {
	if b.Clock != a.end() || a.ref() != b.ref() {
		return false
	}
	switch a.ref() {
	case refGC:
		return true
	case refDeleted, refString, refJSON, refAny:
	default:
		return false
	}
	return a.Info&hasParentSub == 0 && b.Info&hasParentSub == 0 &&
		b.Info&hasOrigin != 0 && b.Origin == ID{client, a.end() - 1} &&
		a.Info&hasRightOrigin == b.Info&hasRightOrigin && a.RightOrigin == b.RightOrigin
}

// slice returns s's clocks [from, to) as a struct of its own: past its
// start, an item whose origin is the clock before.
func slice(client uint64, s *Struct, from, to uint64) *Struct {
	if from == 0 && to == s.Length {
		return s
	}
	p := *s
	p.Clock, p.Length = s.Clock+from, to-from
	if from > 0 && s.ref() != refGC && s.ref() != refSkip {
		p.Info |= hasOrigin
		p.Origin = ID{client, s.Clock + from - 1}
		p.Parent = nil
	}
	switch s.ref() {
	case refString:
		p.Text = sliceText(s.Text, from, to)
	case refJSON, refAny:
		p.Elems = s.Elems[from:to:to]
	}
	return &p
}

// StateVector returns, per client, the clock up to which u holds all its
// structs from clock 0: what a peer holding u tells others it has.
func (u *Update) StateVector() map[uint64]uint64 {
	sv := map[uint64]uint64{}
	u.Advance(sv)
	return sv
}

// EncodeStateVector writes a state vector as y-protocols sends it.
func EncodeStateVector(sv map[uint64]uint64) []byte {
	e := &encoder{}
	clients := sortedClients(sv)
	e.uint(uint64(len(clients)))
	for _, c := range clients {
		e.uint(c)
		e.uint(sv[c])
	}
	return e.b
}

// DecodeStateVector reads a state vector.
func DecodeStateVector(b []byte) (map[uint64]uint64, error) {
	d := &decoder{b: b}
	sv := map[uint64]uint64{}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		c := d.uint()
		sv[c] = d.uint()
	}
	if d.err != nil {
		return nil, fmt.Errorf("state vector: %w", d.err)
	}
	return sv, nil
}

// Diff returns the part of update that a peer with state vector sv lacks:
// its structs past sv, and its whole delete set.
func Diff(update []byte, sv map[uint64]uint64) ([]byte, error) {
	u, err := Decode(update)
	if err != nil {
		return nil, err
	}
	for c, ss := range u.Structs {
		ss = dedup(c, ss)
		have := sv[c]
		i := 0
		for i < len(ss) && ss[i].end() <= have {
			i++
		}
		ss = ss[i:]
		if len(ss) == 0 {
			delete(u.Structs, c)
			continue
		}
		if s := ss[0]; s.Clock < have {
			ss[0] = slice(c, s, have-s.Clock, s.Length)
		}
		u.Structs[c] = ss
	}
	return u.Encode(), nil
}

// Advance moves sv past u's structs that continue what sv covers: the state
// vector of a peer that held sv and applied u.
func (u *Update) Advance(sv map[uint64]uint64) {
	for c, ss := range u.Structs {
		ss = slices.Clone(ss)
		slices.SortFunc(ss, func(a, b *Struct) int { return cmp.Compare(a.Clock, b.Clock) })
		clock := sv[c]
		for _, s := range ss {
			if s.Clock > clock || s.ref() == refSkip {
				break
			}
			clock = max(clock, s.end())
		}
		if clock > 0 {
			sv[c] = clock
		}
	}
}

// Beyond reports whether u holds a struct past sv, that is, something a
// peer with state vector sv lacks (besides deletions).
func (u *Update) Beyond(sv map[uint64]uint64) bool {
	for c, ss := range u.Structs {
		for _, s := range ss {
			if s.ref() != refSkip && s.end() > sv[c] {
				return true
			}
		}
	}
	return false
}

// Add adds other's ranges to ds.
func (ds DeleteSet) Add(other DeleteSet) {
	for c, rs := range other {
		ds[c] = append(ds[c], rs...)
	}
	ds.normalize()
}

// Covers reports whether every range of other is deleted in ds, which
// must be normalized (as Decode, Merge and Add leave it).
func (ds DeleteSet) Covers(other DeleteSet) bool {
	for c, rs := range other {
		have := ds[c]
		for _, r := range rs {
			i, _ := slices.BinarySearchFunc(have, r.Clock, func(h Range, clock uint64) int {
				return cmp.Compare(h.Clock+h.Length, clock+1)
			})
			if i == len(have) || have[i].Clock > r.Clock || have[i].Clock+have[i].Length < r.Clock+r.Length {
				return false
			}
		}
	}
	return true
}
