package objlog

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"

	"github.com/roost-dev/roost/internal/store"
)

// Kind is what a record does to its object.
type Kind uint8

// The kinds of records.
const (
	// KindCommit carries one committed batch: the pages it wrote.
	KindCommit Kind = 1
	// KindFence is written by a node that takes an object over: it carries
	// no pages, and an owner that appends after it without having read it
	// fails its expected-sequence check.
	KindFence Kind = 2
)

// Sum is a link of an object's checksum chain: SHA-256 over the previous
// link and the record's content.
type Sum [sha256.Size]byte

// Record is one entry of an object's log.
type Record struct {
	Kind  Kind
	Epoch uint64 // the owner's shard epoch when it wrote the record
	// Before is the chain's link the record follows; After covers Before
	// and the record's content. Restore checks both.
	Before, After Sum
	// Changes are the pages of a commit (nil for a fence).
	Changes *store.Changes
}

// Record layout, all integers big-endian:
//
//	magic "RLG1" | kind u8 | epoch u64 | before [32] | after [32] | body
//
// The body is S2-compressed:
//
//	flags u8 (1 base, 2 removed) | size u32 | [base len u32 | base] | count u32 | count × (no u32 | len u32 | data)
const (
	magic      = "RLG1"
	headerSize = len(magic) + 1 + 8 + 2*sha256.Size
	flagBase   = 1
	flagRemove = 2
	// maxBody bounds a decoded body: no record can make Restore allocate
	// more (a commit's pages are bounded by the NATS payload limit long
	// before this).
	maxBody = 1 << 30
)

// errCorrupt marks a record that cannot be decoded.
var errCorrupt = errors.New("objlog: corrupt record")

// seal encodes a record of kind with ch (nil for a fence) following before,
// and returns it with its After link.
func seal(kind Kind, epoch uint64, before Sum, ch *store.Changes) ([]byte, Sum) {
	body := s2.Encode(nil, encodeChanges(ch))
	buf := make([]byte, headerSize, headerSize+len(body))
	copy(buf, magic)
	buf[4] = byte(kind)
	binary.BigEndian.PutUint64(buf[5:], epoch)
	copy(buf[13:], before[:])
	buf = append(buf, body...)
	after := link(before, buf[:13], body)
	copy(buf[13+sha256.Size:], after[:])
	return buf, after
}

// link computes the chain's link after a record.
func link(before Sum, head, body []byte) Sum {
	h := sha256.New()
	h.Write(before[:])
	h.Write(head)
	h.Write(body)
	var s Sum
	h.Sum(s[:0])
	return s
}

func encodeChanges(ch *store.Changes) []byte {
	if ch == nil {
		return nil
	}
	n := 9 + len(ch.Base)
	for _, p := range ch.Pages {
		n += 8 + len(p.Data)
	}
	b := make([]byte, 0, n+4)
	var flags byte
	if ch.Base != nil {
		flags |= flagBase
	}
	if ch.Removed {
		flags |= flagRemove
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint32(b, ch.Size)
	if ch.Base != nil {
		b = binary.BigEndian.AppendUint32(b, uint32(len(ch.Base)))
		b = append(b, ch.Base...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(ch.Pages)))
	for _, p := range ch.Pages {
		b = binary.BigEndian.AppendUint32(b, p.No)
		b = binary.BigEndian.AppendUint32(b, uint32(len(p.Data)))
		b = append(b, p.Data...)
	}
	return b
}

// Decode parses a record and checks that its After link covers its
// content. It never panics on any input.
func Decode(data []byte) (*Record, error) {
	if len(data) < headerSize || string(data[:4]) != magic {
		return nil, fmt.Errorf("%w: bad header", errCorrupt)
	}
	r := &Record{Kind: Kind(data[4]), Epoch: binary.BigEndian.Uint64(data[5:])}
	copy(r.Before[:], data[13:])
	copy(r.After[:], data[13+sha256.Size:])
	body := data[headerSize:]
	if link(r.Before, data[:13], body) != r.After {
		return nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	switch r.Kind {
	case KindFence:
		return r, nil
	case KindCommit:
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", errCorrupt, r.Kind)
	}
	ch, err := decodeBody(body)
	if err != nil {
		return nil, err
	}
	r.Changes = ch
	return r, nil
}

func decodeBody(body []byte) (*store.Changes, error) {
	n, err := s2.DecodedLen(body)
	if err != nil || n > maxBody {
		return nil, fmt.Errorf("%w: body: bad length", errCorrupt)
	}
	raw, err := s2.Decode(nil, body)
	if err != nil {
		return nil, fmt.Errorf("%w: body: %v", errCorrupt, err)
	}
	d := decoder{b: raw}
	flags := d.u8()
	ch := &store.Changes{Size: d.u32(), Removed: flags&flagRemove != 0}
	if flags&flagBase != 0 {
		ch.Base = d.bytes(d.u32())
		if ch.Base == nil {
			ch.Base = []byte{}
		}
	}
	count := d.u32()
	for i := uint32(0); i < count && d.err == nil; i++ {
		no := d.u32()
		ch.Pages = append(ch.Pages, store.Page{No: no, Data: d.bytes(d.u32())})
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: body: %v", errCorrupt, d.err)
	}
	return ch, nil
}

// decoder reads big-endian fields, remembering the first short read.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n uint32) []byte {
	if d.err != nil || uint64(n) > uint64(len(d.b)) {
		d.err = errors.New("short body")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() byte {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) bytes(n uint32) []byte { return d.take(n) }
