package ids_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/roost-dev/roost/internal/ids"
)

const sample = "518abbe70ef69ad7e91a44eda256587410b6a57bcf5ff082aa9e3f58f3da430f"

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr string // substring of the error; empty means success
	}{
		{name: "valid", in: sample},
		{name: "zero", in: strings.Repeat("0", 64)},
		{name: "all f", in: strings.Repeat("f", 64)},
		{name: "empty", in: "", wantErr: "length 0, want 64"},
		{name: "short", in: sample[:63], wantErr: "length 63, want 64"},
		{name: "long", in: sample + "0", wantErr: "length 65, want 64"},
		{name: "uppercase", in: strings.ToUpper(sample), wantErr: `byte 3 is 'A'`},
		{name: "non hex", in: "g" + sample[1:], wantErr: `byte 0 is 'g'`},
		{name: "leading space", in: " " + sample[1:], wantErr: `byte 0 is ' '`},
		{name: "trailing newline", in: sample[:63] + "\n", wantErr: `byte 63 is '\n'`},
		{name: "control byte", in: "\x00" + sample[1:], wantErr: `byte 0 is '\x00'`},
		{name: "prefix 0x", in: "0x" + sample[2:], wantErr: `byte 1 is 'x'`},
		{name: "multibyte", in: "é" + sample[2:], wantErr: `byte 0 is 0xc3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := ids.Parse(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse(%q) error: %v", tt.in, err)
				}
				if got := id.String(); got != tt.in {
					t.Fatalf("String() = %q, want %q", got, tt.in)
				}
				return
			}
			if !errors.Is(err, ids.ErrInvalid) {
				t.Fatalf("Parse(%q) error = %v, want wrapping ErrInvalid", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestParse_ErrorQuotesAtMost80Bytes(t *testing.T) {
	t.Parallel()
	in := strings.Repeat("A", 10_000)
	_, err := ids.Parse(in)
	if !errors.Is(err, ids.ErrInvalid) {
		t.Fatalf("error = %v, want wrapping ErrInvalid", err)
	}
	if n := strings.Count(err.Error(), "A"); n != 80 {
		t.Fatalf("error repeats %d bytes of the input, want 80: %q", n, err)
	}
}

func TestFromName_IsPinned(t *testing.T) {
	t.Parallel()
	// These values are stored on disk as object identities. If this test
	// fails, the derivation changed and every existing object is orphaned.
	tests := []struct {
		name, class, object, want string
	}{
		{"counter", "counter", "room-42", sample},
		{"class boundary left", "ab", "c", "08fe258dbe465ac388f5168c50bc18a1b143254e3ec23fccb9457cd78a997121"},
		{"class boundary right", "a", "bc", "c9554da8095c262e3d1d17d2b00a5222f03059380f7ae252733cf66f7b51c874"},
		{"empty", "", "", "d71d8c18a27a6c762b7a1eac009a0594a6208c3000d966863fb83d54249c5b3b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ids.FromName(tt.class, tt.object).String(); got != tt.want {
				t.Fatalf("FromName(%q, %q) = %s, want %s", tt.class, tt.object, got, tt.want)
			}
		})
	}
}

func TestFromName_IsDeterministicAndSeparatesClasses(t *testing.T) {
	t.Parallel()
	a, b := ids.FromName("counter", "x"), ids.FromName("counter", "x")
	if a != b {
		t.Fatalf("FromName gave %s then %s for the same input", a, b)
	}
	if c := ids.FromName("chat", "x"); c == a {
		t.Fatalf("FromName gave %s for two classes", c)
	}
}

func TestNew_IsRandomAndNonZero(t *testing.T) {
	t.Parallel()
	seen := make(map[ids.ID]bool)
	for range 100 {
		id := ids.New()
		if id.IsZero() || seen[id] {
			t.Fatalf("New() = %s: zero or repeated", id)
		}
		seen[id] = true
	}
}

func TestID_IsZero(t *testing.T) {
	t.Parallel()
	if !(ids.ID{}).IsZero() {
		t.Fatal("zero ID: IsZero() = false")
	}
	if ids.FromName("a", "b").IsZero() {
		t.Fatal("derived ID: IsZero() = true")
	}
}

func TestID_TextRoundTripsThroughJSON(t *testing.T) {
	t.Parallel()
	want := ids.FromName("counter", "room-42")
	b, err := json.Marshal(map[string]ids.ID{"id": want})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"id":"`+sample+`"}` {
		t.Fatalf("json = %s", b)
	}
	var got map[string]ids.ID
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["id"] != want {
		t.Fatalf("round trip = %s, want %s", got["id"], want)
	}
}

func TestID_UnmarshalTextRejectsAndKeepsValue(t *testing.T) {
	t.Parallel()
	id := ids.FromName("a", "b")
	before := id
	err := id.UnmarshalText([]byte(strings.ToUpper(sample)))
	if !errors.Is(err, ids.ErrInvalid) {
		t.Fatalf("error = %v, want wrapping ErrInvalid", err)
	}
	if id != before {
		t.Fatalf("id changed to %s on error", id)
	}
}

func FuzzParse(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzParse.
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ids.Parse(s)
		if err != nil {
			if !errors.Is(err, ids.ErrInvalid) {
				t.Fatalf("Parse(%q) error = %v, want wrapping ErrInvalid", s, err)
			}
			// 80 quoted bytes take at most 4*80 characters, plus the message.
			if n := len(err.Error()); n > 4*80+100 {
				t.Fatalf("error is %d bytes long: %q", n, err)
			}
			return
		}
		got := id.String()
		if got != s {
			t.Fatalf("Parse(%q).String() = %q", s, got)
		}
		if len(got) != 64 || strings.Trim(got, "0123456789abcdef") != "" {
			t.Fatalf("String() = %q, want 64 lowercase hex", got)
		}
	})
}
