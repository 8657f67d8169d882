package admin

import (
	"encoding/json"
	"testing"
)

// FuzzAppendString: the SQL answer's own string encoder writes what
// encoding/json writes, for any text a row may hold (valid UTF-8 or not).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\x00\x01\x1f\"\\/\b\f\n\r\t", "<a href='x'>&</a>", "é, 日本, \u2028\u2029 😀", "\xff\xfe", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got[1:], want)
		}
	})
}
