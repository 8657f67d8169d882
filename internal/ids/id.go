package ids

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
)

// Size is the length of an ID in bytes.
const Size = 32

// ErrInvalid is wrapped by every error that [Parse] and [ID.UnmarshalText]
// return. Its code is invalid_id.
var ErrInvalid error = &codedError{msg: "invalid object id", code: "invalid_id"}

// nameKey keys the HMAC in [FromName]. Changing it changes every derived ID,
// which orphans every stored object: never change it without a migration.
const nameKey = "roost/object-id/v1"

// maxQuote bounds how much of a rejected input an error message repeats, so a
// client cannot make the server echo or log a large body.
const maxQuote = 80

// ID identifies one object. The zero value is not a valid ID for an object;
// see [ID.IsZero].
type ID [Size]byte

// FromName derives the ID of the object called name in class.
//
// The ID is HMAC-SHA256, keyed with the fixed string "roost/object-id/v1", of
// the class length as a big-endian uint64, then the class, then the name. The
// length prefix keeps the encoding unambiguous: ("ab", "c") and ("a", "bc")
// give different IDs. The result depends only on its arguments, so it is the
// same in every process, on every machine and in every release that keeps
// that key. The key is public: it separates Roost's IDs from other uses of
// SHA-256, and is no secret, so an ID derived from a name is not a capability.
func FromName(class, name string) ID {
	mac := macs.Get().(hash.Hash)
	defer macs.Put(mac)
	mac.Reset()
	var buf [128]byte
	msg := binary.BigEndian.AppendUint64(buf[:0], uint64(len(class)))
	msg = append(append(msg, class...), name...)
	mac.Write(msg)
	var id ID
	mac.Sum(id[:0])
	return id
}

// macs holds keyed HMACs for FromName; keying one costs more than hashing.
var macs = sync.Pool{New: func() any { return hmac.New(sha256.New, []byte(nameKey)) }}

// New returns a random ID drawn from crypto/rand. Two calls return the same ID
// with negligible probability.
func New() ID {
	var id ID
	rand.Read(id[:]) // never returns an error; it crashes the program instead
	return id
}

// Parse reads an ID from its text form: exactly 64 characters, each one of
// 0-9 and a-f. Uppercase hex, surrounding space and any other form are
// rejected, so every ID has exactly one text form. Errors wrap [ErrInvalid]
// and quote at most 80 bytes of s.
func Parse(s string) (ID, error) {
	var id ID
	if len(s) != 2*Size {
		return id, invalid(s, fmt.Sprintf("length %d, want %d", len(s), 2*Size))
	}
	for i := 0; i < len(s); i++ {
		if !isLowerHex(s[i]) {
			return id, invalid(s, fmt.Sprintf("byte %d is %s, want 0-9 or a-f", i, quoteByte(s[i])))
		}
	}
	hex.Decode(id[:], []byte(s)) // cannot fail: checked above
	return id, nil
}

func isLowerHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
}

func invalid(s, why string) error {
	return fmt.Errorf("%w %s: %s", ErrInvalid, quote(s), why)
}

// quote returns s quoted, cut to maxQuote bytes with a trailing "..." marker
// when it is longer.
func quote(s string) string {
	if len(s) <= maxQuote {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...", s[:maxQuote])
}

// quoteByte shows an ASCII byte as a Go character literal and any other byte
// in hex, since a lone byte of a UTF-8 sequence is not a character.
func quoteByte(c byte) string {
	if c < 0x80 {
		return fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf("0x%02x", c)
}

// String returns the ID as 64 lowercase hexadecimal characters, the form that
// [Parse] accepts.
func (id ID) String() string {
	return hex.EncodeToString(id[:])
}

// IsZero reports whether id is the zero ID, which no object has.
func (id ID) IsZero() bool {
	return id == ID{}
}

// MarshalText returns the form of [ID.String]. It never fails.
func (id ID) MarshalText() ([]byte, error) {
	b := make([]byte, 2*Size)
	hex.Encode(b, id[:])
	return b, nil
}

// UnmarshalText sets id from its text form with the rules of [Parse]. On
// error, id is left unchanged.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
