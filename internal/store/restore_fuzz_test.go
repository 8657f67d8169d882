package store

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// restoreScript is a restore decoded from fuzz bytes: a base and commits.
type restoreScript struct {
	base    []byte
	commits []*Changes
}

// decodeRestore decodes a restore: the base (none, the template, or the
// template with a byte changed), then up to 16 commits, each a flags byte
// (1 removed, 2 the template as base, 4 a huge size), a size in pages and
// up to 3 pages (a number, and a kind: one of the template's pages, or a
// filled page of 4 KiB, 512 bytes or none).
func decodeRestore(data, tmpl []byte) restoreScript {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	var sc restoreScript
	switch next() % 3 {
	case 1:
		sc.base = tmpl
	case 2:
		sc.base = bytes.Clone(tmpl)
		sc.base[100+int(next())*int(next())%(len(tmpl)-100)] ^= next() | 1
	}
	for i := 0; i < 16 && len(data) > 0; i++ {
		flags := next()
		ch := &Changes{Removed: flags&1 != 0, Size: uint32(next() % 8)}
		if flags&2 != 0 {
			ch.Base = tmpl
		}
		if flags&4 != 0 {
			ch.Size = 1 << 31
		}
		for range next() % 4 {
			ch.Pages = append(ch.Pages, fuzzPage(uint32(next()%9), next(), tmpl))
		}
		sc.commits = append(sc.commits, ch)
	}
	return sc
}

// fuzzPage returns page no of a kind: the template's page, or filled.
func fuzzPage(no uint32, kind byte, tmpl []byte) Page {
	switch kind % 4 {
	case 0:
		at := int(max(no, 1)-1) * 4096 % len(tmpl)
		return Page{No: no, Data: tmpl[at : at+4096]}
	case 1:
		return Page{No: no, Data: page(4096, kind)}
	case 2:
		return Page{No: no, Data: page(512, kind)}
	}
	return Page{No: no}
}

// want returns the file the script restores: nil for no object.
func (sc restoreScript) want() []byte {
	file := bytes.Clone(sc.base)
	for _, ch := range sc.commits {
		switch {
		case ch.Removed:
			file = nil
			continue
		case ch.Base != nil:
			file = bytes.Clone(ch.Base)
		}
		ps := int(binary.BigEndian.Uint16(file[16:]))
		for _, p := range ch.Pages {
			end := int(p.No) * ps
			file = append(file, make([]byte, max(0, end-len(file)))...)
			copy(file[end-ps:], p.Data)
		}
		file = append(file, make([]byte, max(0, int(ch.Size)*ps-len(file)))...)[:int(ch.Size)*ps]
	}
	return file
}

// run restores the script through r.
func (sc restoreScript) run(r *Restorer) error {
	if err := r.Start(sc.base); err != nil {
		return err
	}
	for _, ch := range sc.commits {
		if err := r.Apply(ch); err != nil {
			return err
		}
	}
	return r.Finish()
}

// FuzzRestoreApply restores objects from random changes: a restore either
// fails, and installs nothing, or installs exactly the file the changes
// describe. No input panics, and the store opens what was installed or
// returns an error. (The Restorer does not read the pages' contents: a
// page of zeros installs a corrupt database, and it is the log's checksums
// that keep such pages out.)
func FuzzRestoreApply(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 2, 1, 1, 0})          // the template, one commit of its page 1
	f.Add([]byte{0, 2, 2, 2, 1, 0, 2, 1})    // a base in the commit, then page 2 filled
	f.Add([]byte{1, 1, 0, 0, 0, 3, 1, 9, 1}) // removed, then pages without a base
	f.Add([]byte{2, 7, 9, 0xff, 0, 2, 0})    // a changed base
	f.Add([]byte{1, 4, 2, 1, 1, 0, 0, 1, 1}) // a huge size
	f.Fuzz(func(t *testing.T, data []byte) {
		log := &funcLog{}
		s := newStore(t, Config{Synchronous: SyncNormal, Spares: -1, Log: log})
		tmpl, err := s.tmpl()
		if err != nil {
			t.Fatal(err)
		}
		sc := decodeRestore(data, tmpl.db)
		var restoreErr error
		log.restore = func(r *Restorer) error { restoreErr = sc.run(r); return restoreErr }
		id := objID("fuzz")
		db, err := s.Open(testClass, id)
		if err == nil {
			defer db.Close()
			dump(db) // reads whatever was installed: an error is fine
		}
		got := objectFile(t, s, id)
		switch {
		case restoreErr != nil && got != nil:
			t.Fatalf("a failed restore (%v) installed a file", restoreErr)
		case restoreErr == nil && !bytes.Equal(got, sc.want()):
			t.Fatalf("the restore installed %d bytes, want %d (the changes applied in order)", len(got), len(sc.want()))
		}
	})
}
