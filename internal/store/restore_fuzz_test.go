package store

import (
	"encoding/binary"
	"path"
	"strings"
	"testing"
)

// FuzzRestorer_Apply feeds a Restorer random Changes, as a corrupt or
// hostile log could. Whatever they hold, the Restorer must not panic, must
// change no file but the object's own (and leave nothing in .tmp), and the
// store must open what it installed (an error is fine, a crash is not).
func FuzzRestorer_Apply(f *testing.F) {
	f.Add([]byte{1})                                     // the template alone
	f.Add([]byte{1, 1, 0, 4, 1, 0, 2, 1, 5})             // a changed page 2
	f.Add([]byte{1, 1, 0, 4, 1, 0, 2, 1, 5, 7, 0, 0, 0}) // then removed
	f.Add([]byte{1, 1, 0, 4, 1, 0, 1, 0, 0})
	f.Add([]byte{1, 5, 0, 5, 2, 0, 2, 0, 1, 0, 5, 0, 7})
	f.Add([]byte{0, 5, 0, 4, 1, 0, 1, 3, 3, 7, 0, 0, 0})
	f.Add([]byte{1, 1, 0, 4, 1, 0, 1, 9, 9})
	f.Add([]byte{1, 1, 255, 255, 3, 255, 255, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newStore(t, Config{Spares: -1, MaxDatabaseSize: 1 << 20})
		tmpl, err := s.tmpl()
		if err != nil {
			t.Fatal(err)
		}
		id := objID("fuzz")
		before := snapshot(t, s.cfg.Dir)
		base, chs := decodeChanges(data, tmpl.db)
		r := restorerFor(s, id)
		err = replay(r, base, chs)
		r.discard()
		wantOnlyObjectChanged(t, before, snapshot(t, s.cfg.Dir), Path(testClass, id))
		if err != nil {
			return
		}
		db, err := s.Open(testClass, id)
		if err != nil {
			return
		}
		defer db.Close()
		if rows, err := db.Query(t.Context(), "PRAGMA integrity_check"); err == nil {
			rows.Close()
		}
	})
}

// wantOnlyObjectChanged fails if a file other than the object's (or a
// directory on its path, or .tmp) was added, removed or changed, or if .tmp
// holds anything.
func wantOnlyObjectChanged(t *testing.T, before, after map[string]string, file string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(diffSnapshots(before, after)), "\n") {
		p := line[strings.Index(line, " ")+1:]
		if line == "" || p == file || p == ".tmp" || strings.HasPrefix(file, p+"/") {
			continue
		}
		t.Fatalf("a restore touched %s", line)
	}
	for p := range after {
		if path.Dir(p) == ".tmp" {
			t.Fatalf("a restore left %s behind", p)
		}
	}
}

// decodeChanges makes a base and Changes out of fuzz bytes: pages are the
// template's, changed in one byte, sometimes of the wrong length.
func decodeChanges(data []byte, tmpl []byte) (base []byte, chs []Changes) {
	if len(data) == 0 {
		return nil, nil
	}
	if data[0]&1 == 1 {
		base = tmpl
	}
	data = data[1:]
	for len(data) >= 4 && len(chs) < 8 {
		kind, size, n := data[0], uint32(binary.BigEndian.Uint16(data[1:3])), int(data[3]%8)
		data = data[4:]
		ch := Changes{Size: size, Removed: kind%7 == 0}
		if kind%5 == 0 {
			ch.Base = tmpl
		}
		for ; n > 0 && len(data) >= 4; n-- {
			ch.Pages = append(ch.Pages, fuzzPage(data[:4], tmpl))
			data = data[4:]
		}
		chs = append(chs, ch)
	}
	return base, chs
}

// fuzzPage makes a page out of 4 bytes: its number, and a change to the
// template's page of that number.
func fuzzPage(b []byte, tmpl []byte) Page {
	no := uint32(binary.BigEndian.Uint16(b))
	size := 4096
	if b[2]%9 == 0 {
		size = int(b[2]) * 16
	}
	data := make([]byte, size)
	pages := len(tmpl) / 4096
	copy(data, tmpl[int(no)%pages*4096:])
	if size > 0 {
		data[int(b[3])*16%size] ^= b[3] | 1
	}
	return Page{No: no, Data: data}
}
