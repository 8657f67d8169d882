package yupdate

import (
	"cmp"
	"slices"
)

type encoder struct{ b []byte }

func (e *encoder) uint(n uint64) {
	for n >= 0x80 {
		e.b = append(e.b, byte(n)|0x80)
		n >>= 7
	}
	e.b = append(e.b, byte(n))
}

func (e *encoder) bytes(b []byte) {
	e.uint(uint64(len(b)))
	e.b = append(e.b, b...)
}

// Encode writes u: its clients in descending order, as yjs does, and a
// skip over each gap in a client's clocks.
func (u *Update) Encode() []byte {
	e := &encoder{}
	clients := sortedClients(u.Structs)
	clients = slices.DeleteFunc(clients, func(c uint64) bool { return len(u.Structs[c]) == 0 })
	e.uint(uint64(len(clients)))
	for _, c := range clients {
		ss := u.Structs[c]
		gaps := 0
		for i := 1; i < len(ss); i++ {
			if ss[i].Clock > ss[i-1].end() {
				gaps++
			}
		}
		e.uint(uint64(len(ss) + gaps))
		e.uint(c)
		e.uint(ss[0].Clock)
		for i, s := range ss {
			if i > 0 && s.Clock > ss[i-1].end() {
				e.b = append(e.b, refSkip)
				e.uint(s.Clock - ss[i-1].end())
			}
			e.structure(s)
		}
	}
	u.Deleted.encode(e)
	return e.b
}

func (e *encoder) structure(s *Struct) {
	e.b = append(e.b, s.Info)
	switch s.ref() {
	case refGC, refSkip:
		e.uint(s.Length)
		return
	}
	if s.Info&hasOrigin != 0 {
		e.uint(s.Origin.Client)
		e.uint(s.Origin.Clock)
	}
	if s.Info&hasRightOrigin != 0 {
		e.uint(s.RightOrigin.Client)
		e.uint(s.RightOrigin.Clock)
	}
	if s.Info&(hasOrigin|hasRightOrigin) == 0 {
		e.b = append(e.b, s.Parent...)
	}
	switch s.ref() {
	case refDeleted:
		e.uint(s.Length)
	case refJSON, refAny:
		e.uint(uint64(len(s.Elems)))
		for _, el := range s.Elems {
			e.b = append(e.b, el...)
		}
	case refString:
		e.bytes([]byte(s.Text))
	default:
		e.b = append(e.b, s.Raw...)
	}
}

func (ds DeleteSet) encode(e *encoder) {
	clients := sortedClients(ds)
	e.uint(uint64(len(clients)))
	for _, c := range clients {
		e.uint(c)
		e.uint(uint64(len(ds[c])))
		for _, r := range ds[c] {
			e.uint(r.Clock)
			e.uint(r.Length)
		}
	}
}

func sortedClients[V any](m map[uint64]V) []uint64 {
	clients := make([]uint64, 0, len(m))
	for c := range m {
		clients = append(clients, c)
	}
	slices.SortFunc(clients, func(a, b uint64) int { return cmp.Compare(b, a) })
	return clients
}
