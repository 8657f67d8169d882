package store

import (
	"encoding/binary"
	"testing"

	"github.com/roost-dev/roost/internal/errcode"
)

// FuzzCheckHeader feeds CheckHeader the first bytes of uploads: it must
// accept only a SQLite header with 4096-byte pages whose recorded size, if
// valid, fits the bound, and refuse anything else with a client error.
func FuzzCheckHeader(f *testing.F) {
	good := make([]byte, HeaderSize)
	copy(good, sqliteMagic)
	binary.BigEndian.PutUint16(good[16:], 4096)
	binary.BigEndian.PutUint32(good[28:], 3)
	f.Add(good, int64(1<<20))
	f.Add(good[:50], int64(1<<20))
	f.Add(make([]byte, HeaderSize), int64(1<<20))
	f.Add(good, int64(4096))
	f.Fuzz(func(t *testing.T, h []byte, max int64) {
		err := CheckHeader(h, max)
		if err != nil {
			if c := errcode.Of(err); c != errcode.BadRequest && c != errcode.LimitExceeded {
				t.Fatalf("CheckHeader: %v, code %s; want bad_request or limit_exceeded", err, c)
			}
			return
		}
		if len(h) < HeaderSize || string(h[:16]) != sqliteMagic || binary.BigEndian.Uint16(h[16:]) != 4096 {
			t.Fatalf("CheckHeader accepted %x", h)
		}
		pages := int64(binary.BigEndian.Uint32(h[28:]))
		if string(h[24:28]) == string(h[92:96]) && pages*4096 > max {
			t.Fatalf("CheckHeader accepted a database of %d pages over %d bytes", pages, max)
		}
	})
}
