package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// How a commit's frames are found in the -wal file (see
// https://www.sqlite.org/fileformat.html, "The Write-Ahead Log", and wal.c).
//
// The WAL is a 32-byte header (magic, version, page size, checkpoint
// sequence, salt-1, salt-2, checksum of the first 24 bytes) then frames: a
// 24-byte header (page number; the database size in pages after the commit
// on a commit frame, else 0; salt-1; salt-2; the cumulative checksum of the
// WAL header, all prior frames, this frame header's first 8 bytes and its
// page) and the page. SQLite takes as committed the frames whose salts match
// the header and whose checksums chain, up to the last commit frame among
// them; walTail reads the same way, from where the previous commit ended.
//
// Once a checkpoint has copied every frame into the database, the next write
// transaction restarts the WAL (walRestartLog): it rewrites the header with
// salt-1 incremented and a random salt-2, and writes its frames from offset
// 32, over the old ones. A changed salt therefore means "read from 32". Stale
// frames beyond the committed end (of a rolled-back transaction that spilled,
// or of the previous generation) fail the salt or checksum test; frames that
// a transaction rewrote in place (a page it had spilled) are final once it
// committed, with their checksums recomputed. So reading right after each
// COMMIT, before the connection writes again, yields exactly that commit's
// frames.

// WAL format constants.
const (
	walHeaderSize      = 32
	walFrameHeaderSize = 24
	walMagic           = 0x377f0682 // | 1: checksums in big-endian words
	walVersion         = 3007000
	walReadChunk       = 1 << 20
	walFirstRead       = 4 // frames
)

// walTail follows an object's -wal file from one commit to the next. It
// belongs to a DB and is guarded by the DB's mutex.
type walTail struct {
	f *os.File // the -wal file, opened through the store's root; nil when closed
	// valid: off, salt, sum and pageSize describe the WAL as the last
	// captured commit left it; otherwise the next read starts at the header.
	valid    bool
	off      int64     // offset after the last captured commit frame
	salt     [8]byte   // the header's salts
	sum      [2]uint32 // the running checksum at off
	big      bool      // checksums are of big-endian words
	pageSize int
}

// walHeader is a parsed WAL header.
type walHeader struct {
	salt     [8]byte
	sum      [2]uint32
	big      bool
	pageSize int
}

// readHeader reads the WAL header; ok is false if the WAL is empty.
func (w *walTail) readHeader() (h walHeader, ok bool, err error) {
	var b [walHeaderSize]byte
	n, err := w.f.ReadAt(b[:], 0)
	if n < walHeaderSize {
		if err == nil || errors.Is(err, io.EOF) {
			return h, false, nil // a WAL cut back or truncated by a checkpoint: no frames
		}
		return h, false, err
	}
	magic := binary.BigEndian.Uint32(b[0:])
	h.big = magic&1 == 1
	h.pageSize = int(binary.BigEndian.Uint32(b[8:]))
	if magic&^1 != walMagic || binary.BigEndian.Uint32(b[4:]) != walVersion || !validPageSize(h.pageSize) {
		return h, false, errors.New("the WAL header is not SQLite's")
	}
	if s := walSum(h.big, [2]uint32{}, b[:24]); s != [2]uint32{binary.BigEndian.Uint32(b[24:]), binary.BigEndian.Uint32(b[28:])} {
		return h, false, errors.New("the WAL header's checksum is wrong")
	}
	copy(h.salt[:], b[16:24])
	h.sum = [2]uint32{binary.BigEndian.Uint32(b[24:]), binary.BigEndian.Uint32(b[28:])}
	return h, true, nil
}

// validPageSize reports whether n is a page size SQLite can have.
func validPageSize(n int) bool { return n >= 512 && n <= 65536 && n&(n-1) == 0 }

// next reads the frames committed since the last call into buf (reused)
// and returns the pages, the database size after the commit (0 if nothing
// was committed) and the buffer, which the pages' Data point into.
func (w *walTail) next(buf []byte) (pages []Page, size uint32, _ []byte, err error) {
	h, ok, err := w.readHeader()
	if err != nil || !ok {
		return nil, 0, buf, err
	}
	if !w.valid || h.salt != w.salt || h.pageSize != w.pageSize {
		w.valid, w.off, w.salt, w.sum, w.big, w.pageSize = true, walHeaderSize, h.salt, h.sum, h.big, h.pageSize
	}
	buf, end, sum, size, err := w.scan(buf[:0])
	if err != nil || size == 0 {
		return nil, 0, buf, err
	}
	pages = framePages(buf[:end], w.pageSize)
	w.off += int64(end)
	w.sum = sum
	return pages, size, buf, nil
}

// scan reads valid frames from w.off into buf until a frame fails the salt
// or checksum test or the file ends. It returns the length of buf up to the
// end of the last commit frame, the running checksum there and that frame's
// database size (0: no commit frame).
func (w *walTail) scan(buf []byte) (_ []byte, end int, sum [2]uint32, size uint32, err error) {
	frame := walFrameHeaderSize + w.pageSize
	run := w.sum
	for pos := 0; ; {
		if pos+frame > len(buf) {
			if buf, err = w.readMore(buf, frame); err != nil {
				return buf, 0, sum, 0, err
			}
			if pos+frame > len(buf) {
				return buf, end, sum, size, nil // the file ends
			}
		}
		f := buf[pos : pos+frame]
		if string(f[8:16]) != string(w.salt[:]) || binary.BigEndian.Uint32(f[0:]) == 0 {
			return buf, end, sum, size, nil
		}
		run = walSum(w.big, walSum(w.big, run, f[:8]), f[walFrameHeaderSize:])
		if run != [2]uint32{binary.BigEndian.Uint32(f[16:]), binary.BigEndian.Uint32(f[20:])} {
			return buf, end, sum, size, nil
		}
		pos += frame
		if n := binary.BigEndian.Uint32(f[4:]); n != 0 {
			end, sum, size = pos, run, n
		}
	}
}

// readMore appends to buf the next bytes of the WAL after w.off+len(buf):
// a few frames first (most commits write a page or two), then twice as
// much as read so far, up to walReadChunk at a time.
func (w *walTail) readMore(buf []byte, frame int) ([]byte, error) {
	want := max(walFirstRead, min(len(buf), walReadChunk)/frame) * frame
	n := len(buf)
	buf = slices.Grow(buf, want)[:n+want]
	got, err := w.f.ReadAt(buf[n:], w.off+int64(n))
	buf = buf[:n+got]
	if err != nil && !errors.Is(err, io.EOF) {
		return buf, fmt.Errorf("read the WAL: %w", err)
	}
	return buf, nil
}

// framePages returns the pages of the frames in b, each page once with its
// last image, in the order first written.
func framePages(b []byte, pageSize int) []Page {
	frame := walFrameHeaderSize + pageSize
	pages := make([]Page, 0, len(b)/frame)
	if len(b) == frame {
		return append(pages, Page{No: binary.BigEndian.Uint32(b), Data: b[walFrameHeaderSize:]})
	}
	at := make(map[uint32]int, len(b)/frame)
	for pos := 0; pos+frame <= len(b); pos += frame {
		no := binary.BigEndian.Uint32(b[pos:])
		data := b[pos+walFrameHeaderSize : pos+frame]
		if i, ok := at[no]; ok {
			pages[i].Data = data
			continue
		}
		at[no] = len(pages)
		pages = append(pages, Page{No: no, Data: data})
	}
	return pages
}

// walSum continues SQLite's WAL checksum s over b (a multiple of 8 bytes),
// read as 32-bit words in big- or little-endian order.
func walSum(big bool, s [2]uint32, b []byte) [2]uint32 {
	s0, s1 := s[0], s[1]
	if big {
		for ; len(b) >= 8; b = b[8:] {
			s0 += binary.BigEndian.Uint32(b) + s1
			s1 += binary.BigEndian.Uint32(b[4:]) + s0
		}
	} else {
		for ; len(b) >= 8; b = b[8:] {
			s0 += binary.LittleEndian.Uint32(b) + s1
			s1 += binary.LittleEndian.Uint32(b[4:]) + s0
		}
	}
	return [2]uint32{s0, s1}
}
