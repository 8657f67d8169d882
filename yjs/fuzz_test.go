package yjs

import "testing"

// FuzzMessage feeds the parsers of client messages arbitrary bytes: they
// return an error or a message, never panic, and read no further than the
// bytes given.
func FuzzMessage(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0})
	f.Add([]byte{0, 2, 2, 0, 0})
	f.Add([]byte{1, 9, 1, 77, 3, 4, 'n', 'u', 'l', 'l'})
	f.Add([]byte{3})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMessage(b)
		if err != nil {
			return
		}
		if len(m.payload) > len(b) {
			t.Fatalf("a payload of %d bytes from a message of %d", len(m.payload), len(b))
		}
		if m.kind == msgAwareness {
			entries, err := parseAwareness(m.payload)
			if err == nil && len(entries) > len(m.payload) {
				t.Fatalf("%d entries from %d bytes", len(entries), len(m.payload))
			}
			if err == nil {
				again, err := parseMessage(awarenessMessage(entries))
				if err == nil {
					_, err = parseAwareness(again.payload)
				}
				if err != nil {
					t.Fatalf("written awareness does not parse: %v", err)
				}
			}
		}
	})
}
