package ids_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/roost-dev/roost/internal/ids"
)

func TestValidClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr string // substring of the error; empty means valid
	}{
		{name: "word", in: "counter"},
		{name: "one letter", in: "a"},
		{name: "digits underscore dash", in: "chat_room-2"},
		{name: "63 bytes", in: "a" + strings.Repeat("b", 62)},
		{name: "empty", in: "", wantErr: "empty"},
		{name: "64 bytes", in: "a" + strings.Repeat("b", 63), wantErr: "length 64"},
		{name: "leading digit", in: "1abc", wantErr: "must start with a-z"},
		{name: "leading dash", in: "-abc", wantErr: "must start with a-z"},
		{name: "uppercase", in: "Counter", wantErr: "must start with a-z"},
		{name: "inner uppercase", in: "coUnter", wantErr: "byte 2 is 'U'"},
		{name: "slash", in: "a/b", wantErr: "byte 1 is '/'"},
		{name: "dot", in: "a.b", wantErr: "byte 1 is '.'"},
		{name: "space", in: "a b", wantErr: "byte 1 is ' '"},
		{name: "non ascii", in: "café", wantErr: "byte 3 is 0xc3"},
		{name: "reserved id", in: "id", wantErr: "reserved"},
		{name: "reserved admin", in: "admin", wantErr: "reserved"},
		{name: "reserved workflows", in: "workflows", wantErr: "reserved"},
		{name: "reserved metrics", in: "metrics", wantErr: "reserved"},
		{name: "reserved healthz", in: "healthz", wantErr: "reserved"},
		{name: "reserved static", in: "static", wantErr: "reserved"},
		{name: "reserved _roost", in: "_roost", wantErr: "reserved"},
		{name: "reserved prefix is fine", in: "admins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ids.ValidClass(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidClass(%q) = %v, want nil", tt.in, err)
				}
				return
			}
			if !errors.Is(err, ids.ErrInvalidClass) {
				t.Fatalf("ValidClass(%q) = %v, want wrapping ErrInvalidClass", tt.in, err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidClass(%q) = %q, want it to contain %q", tt.in, err, tt.wantErr)
			}
		})
	}
}
