// Package yupdate reads, merges and writes Yjs document updates (the
// "update v1" encoding of yjs and y-protocols) without holding a document:
// what a server that stores and relays a document needs. It merges updates
// into one whose size tracks the document's content rather than its edit
// history (duplicates dropped, deleted content reduced to its length,
// consecutive insertions of one client joined), computes the state vector
// an update covers, and the part of an update a peer lacks.
//
// The format, as yjs writes it: a count of clients, then per client the
// number of its structs, its ID and the clock of its first struct, and its
// structs (GC ranges, skips, and items with their origins and content);
// then the delete set: per client, ranges of deleted clocks. Every number
// is a lib0 variable-length unsigned integer.
package yupdate

import (
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Content kinds: the low five bits of a struct's info byte.
const (
	refGC      = 0
	refDeleted = 1
	refJSON    = 2
	refBinary  = 3
	refString  = 4
	refEmbed   = 5
	refFormat  = 6
	refType    = 7
	refAny     = 8
	refDoc     = 9
	refSkip    = 10
)

// Flags of an item's info byte.
const (
	hasOrigin      = 0x80
	hasRightOrigin = 0x40
	hasParentSub   = 0x20
	refBits        = 0x1f
)

// Bounds on what a decoder accepts.
const (
	// maxAnyDepth bounds the nesting of "any" values (arrays and maps).
	maxAnyDepth = 64
	// maxLength bounds a struct's length and a count: clocks are 53-bit
	// integers in JavaScript.
	maxLength = 1<<53 - 1
)

// ErrMalformed is the error of every update that does not decode.
var ErrMalformed = errors.New("malformed Yjs update")

// ID names a struct: its client and its clock.
type ID struct{ Client, Clock uint64 }

// Struct is a struct of an update: a GC range, a skip, or an item.
type Struct struct {
	Clock  uint64
	Length uint64
	// Info is the struct's info byte: its content kind and, for an item,
	// which of origin, right origin and parent key it has.
	Info        byte
	Origin      ID // with hasOrigin
	RightOrigin ID // with hasRightOrigin
	// Parent is the encoded parent (and parent key) of an item without
	// origins, as read.
	Parent []byte
	// Elems holds the content of a JSON or Any item, one encoded element
	// each; Text the content of a String item; Raw the encoded content of
	// any other item (length 1). GC, skip and deleted content have only
	// their length.
	Elems [][]byte
	Text  string
	Raw   []byte
}

func (s *Struct) ref() byte   { return s.Info & refBits }
func (s *Struct) end() uint64 { return s.Clock + s.Length }

// Update is a decoded update: each client's structs in clock order, and
// the deleted ranges.
type Update struct {
	Structs map[uint64][]*Struct
	Deleted DeleteSet
}

// DeleteSet holds, per client, deleted clock ranges.
type DeleteSet map[uint64][]Range

// Range is a range of clocks: [Clock, Clock+Length).
type Range struct{ Clock, Length uint64 }

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// uint reads a lib0 variable-length unsigned integer of at most 53 bits.
func (d *decoder) uint() uint64 {
	var n uint64
	for shift := 0; ; shift += 7 {
		c := d.byte()
		if d.err != nil {
			return 0
		}
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
		if shift >= 49 {
			d.fail("integer too large")
			return 0
		}
	}
	if n > maxLength {
		d.fail("integer too large")
		return 0
	}
	return n
}

// count reads a length that at least n bytes must follow (each element
// takes one byte or more), so that no count allocates past the input.
func (d *decoder) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail("count %d beyond the update's end", n)
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.count()
	if d.err != nil {
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) skip(n int) {
	if n > len(d.b) {
		d.fail("truncated")
		return
	}
	d.b = d.b[n:]
}

// skipVar skips a lib0 variable-length integer, signed or not.
func (d *decoder) skipVar() {
	for i := 0; d.err == nil; i++ {
		if i == 10 {
			d.fail("integer too large")
			return
		}
		if d.byte() < 0x80 {
			return
		}
	}
}

// skipAny skips a value of lib0's "any" encoding.
func (d *decoder) skipAny(depth int) {
	if depth > maxAnyDepth {
		d.fail("values nested deeper than %d", maxAnyDepth)
		return
	}
	switch t := d.byte(); t {
	case 127, 126, 121, 120: // undefined, null, false, true
	case 125: // integer
		d.skipVar()
	case 124: // float32
		d.skip(4)
	case 123, 122: // float64, bigint
		d.skip(8)
	case 119: // string
		d.bytes()
	case 118: // object
		for n := d.count(); n > 0 && d.err == nil; n-- {
			d.bytes()
			d.skipAny(depth + 1)
		}
	case 117: // array
		for n := d.count(); n > 0 && d.err == nil; n-- {
			d.skipAny(depth + 1)
		}
	case 116: // Uint8Array
		d.bytes()
	default:
		d.fail("unknown value type %d", t)
	}
}

// taken returns the bytes read since from.
func (d *decoder) taken(from []byte) []byte {
	n := len(from) - len(d.b)
	return from[:n:n]
}

// Decode reads an update.
func Decode(b []byte) (*Update, error) {
	d := &decoder{b: b}
	u := &Update{Structs: map[uint64][]*Struct{}, Deleted: DeleteSet{}}
	for clients := d.count(); clients > 0 && d.err == nil; clients-- {
		n := d.count()
		client := d.uint()
		clock := d.uint()
		for ; n > 0 && d.err == nil; n-- {
			s := d.structAt(clock)
			if d.err == nil {
				u.Structs[client] = append(u.Structs[client], s)
				clock = s.end()
				if clock > maxLength {
					d.fail("clock beyond 2^53")
				}
			}
		}
	}
	for clients := d.count(); clients > 0 && d.err == nil; clients-- {
		client := d.uint()
		for n := d.count(); n > 0 && d.err == nil; n-- {
			r := Range{d.uint(), d.uint()}
			if r.Length > 0 && r.Clock+r.Length <= maxLength {
				u.Deleted[client] = append(u.Deleted[client], r)
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	u.Deleted.normalize()
	return u, nil
}

// structAt reads a struct at clock.
func (d *decoder) structAt(clock uint64) *Struct {
	s := &Struct{Clock: clock, Info: d.byte()}
	switch s.ref() {
	case refGC, refSkip:
		s.Info = s.ref()
		s.Length = d.uint()
	default:
		d.item(s)
	}
	if d.err == nil && s.Length == 0 {
		d.fail("a struct of length 0")
	}
	return s
}

func (d *decoder) item(s *Struct) {
	if s.Info&hasOrigin != 0 {
		s.Origin = ID{d.uint(), d.uint()}
	}
	if s.Info&hasRightOrigin != 0 {
		s.RightOrigin = ID{d.uint(), d.uint()}
	}
	if s.Info&(hasOrigin|hasRightOrigin) == 0 {
		from := d.b
		if d.uint() == 1 {
			d.bytes() // the root type's name
		} else {
			d.uint() // the parent item's ID
			d.uint()
		}
		if s.Info&hasParentSub != 0 {
			d.bytes()
		}
		s.Parent = d.taken(from)
	}
	from := d.b
	s.Length = 1
	switch s.ref() {
	case refDeleted:
		s.Length = d.uint()
	case refJSON:
		n := d.count()
		s.Elems = make([][]byte, 0, n)
		for ; n > 0 && d.err == nil; n-- {
			e := d.b
			d.bytes()
			s.Elems = append(s.Elems, d.taken(e))
		}
		s.Length = uint64(len(s.Elems))
	case refAny:
		n := d.count()
		s.Elems = make([][]byte, 0, n)
		for ; n > 0 && d.err == nil; n-- {
			e := d.b
			d.skipAny(0)
			s.Elems = append(s.Elems, d.taken(e))
		}
		s.Length = uint64(len(s.Elems))
	case refString:
		s.Text = d.string()
		s.Length = utf16Len(s.Text)
	case refBinary, refEmbed:
		d.bytes()
	case refFormat:
		d.bytes()
		d.bytes()
	case refType:
		switch d.uint() {
		case 3, 5: // XmlElement, XmlHook: their name
			d.bytes()
		case 0, 1, 2, 4, 6:
		default:
			d.fail("unknown type")
		}
	case refDoc:
		d.bytes()
		d.skipAny(0)
	default:
		d.fail("unknown content kind %d", s.ref())
	}
	switch s.ref() {
	case refBinary, refEmbed, refFormat, refType, refDoc:
		s.Raw = d.taken(from)
	}
}

// utf16Len is the length of s in UTF-16 code units, as JavaScript counts a
// string's length (and Yjs a String item's).
func utf16Len(s string) uint64 {
	n := uint64(0)
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// sliceText returns s's UTF-16 code units [from, to), as JavaScript slices
// a string: a surrogate pair cut in two becomes U+FFFD.
func sliceText(s string, from, to uint64) string {
	if from == 0 && to == utf16Len(s) {
		return s
	}
	units := utf16.Encode([]rune(s))
	runes := utf16.Decode(units[from:to])
	b := make([]byte, 0, len(runes))
	for _, r := range runes {
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}
