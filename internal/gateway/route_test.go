package gateway_test

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/gateway"
	"github.com/roost-dev/roost/internal/ids"
)

// hexID is the ID of counter/room-42, pinned in the ids tests.
const hexID = "518abbe70ef69ad7e91a44eda256587410b6a57bcf5ff082aa9e3f58f3da430f"

func TestParseRoute(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("n", gateway.MaxNameLen)
	byID, _ := ids.Parse(hexID)
	tests := []struct {
		name string
		path string
		want gateway.Route
	}{
		{"name and rest", "/counter/foo/increment", named("counter", "foo", "/increment")},
		{"no rest", "/counter/foo", named("counter", "foo", "/")},
		{"trailing slash", "/counter/foo/", named("counter", "foo", "/")},
		{"deep rest stays escaped", "/counter/foo/a%2Fb/c", named("counter", "foo", "/a%2Fb/c")},
		{"double slash in rest", "/counter/foo//x", named("counter", "foo", "//x")},
		{"encoded slash in name", "/counter/a%2Fb/x", named("counter", "a/b", "/x")},
		{"dot dot in name", "/counter/a%2F..%2Fb", named("counter", "a/../b", "/")},
		{"unicode name", "/counter/caf%C3%A9", named("counter", "café", "/")},
		{"space in name", "/counter/a%20b", named("counter", "a b", "/")},
		{"plus is literal", "/counter/a+b", named("counter", "a+b", "/")},
		{"name at limit", "/counter/" + long, named("counter", long, "/")},
		{"encoded class", "/%63ounter/foo", named("counter", "foo", "/")},
		{"name like id prefix", "/counter/idx", named("counter", "idx", "/")},
		{"by id", "/counter/id/" + hexID + "/x", gateway.Route{Class: "counter", ID: byID, ByID: true, Rest: "/x"}},
		{"by id no rest", "/counter/id/" + hexID, gateway.Route{Class: "counter", ID: byID, ByID: true, Rest: "/"}},
		{"by id encoded id segment", "/counter/%69d/" + hexID + "/", gateway.Route{Class: "counter", ID: byID, ByID: true, Rest: "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := gateway.ParseRoute(tt.path)
			if err != nil {
				t.Fatalf("ParseRoute(%q) error: %v", tt.path, err)
			}
			if got != tt.want {
				t.Fatalf("ParseRoute(%q) = %+v, want %+v", tt.path, got, tt.want)
			}
		})
	}
}

func named(class, name, rest string) gateway.Route {
	return gateway.Route{Class: class, Name: name, ID: ids.FromName(class, name), Rest: rest}
}

func TestParseRoute_Rejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		path     string
		wantCode errcode.Code
		wantMsg  string // substring of the error
	}{
		{"empty", "", errcode.NotFound, "no route"},
		{"root", "/", errcode.NotFound, "no route"},
		{"class only", "/counter", errcode.NotFound, "/{class}/{name}/"},
		{"relative", "counter/foo", errcode.NotFound, "no route"},
		{"uppercase class", "/Counter/foo", errcode.UnknownClass, "must start with a-z"},
		{"reserved class", "/admin/foo", errcode.UnknownClass, "reserved"},
		{"empty class", "//foo", errcode.UnknownClass, "empty"},
		{"class with dot", "/a.b/foo", errcode.UnknownClass, "byte 1 is '.'"},
		{"bad escape in class", "/%zz/foo", errcode.BadRequest, "class name"},
		{"empty name", "/counter/", errcode.BadRequest, "empty object name"},
		{"empty name then rest", "/counter//x", errcode.BadRequest, "empty object name"},
		{"name over limit", "/counter/" + strings.Repeat("n", gateway.MaxNameLen+1), errcode.BadRequest, "513 bytes, want at most 512"},
		{"encoded name over limit", "/counter/" + strings.Repeat("%41", gateway.MaxNameLen+1), errcode.BadRequest, "513 bytes"},
		{"name not utf-8", "/counter/%FF", errcode.BadRequest, "not valid UTF-8"},
		{"bad escape in name", "/counter/%zz", errcode.BadRequest, "object name"},
		{"bad escape in rest", "/counter/foo/%zz", errcode.BadRequest, "path"},
		{"missing id", "/counter/id", errcode.InvalidID, "length 0"},
		{"empty id", "/counter/id/", errcode.InvalidID, "length 0"},
		{"uppercase id", "/counter/id/" + strings.ToUpper(hexID), errcode.InvalidID, "byte 3 is 'A'"},
		{"short id", "/counter/id/" + hexID[:63], errcode.InvalidID, "length 63"},
		{"non-hex id", "/counter/id/g" + hexID[1:], errcode.InvalidID, "byte 0 is 'g'"},
		{"id with newline", "/counter/id/" + hexID[:63] + "%0A", errcode.InvalidID, `byte 63 is '\n'`},
		{"bad escape in id", "/counter/id/%zz", errcode.BadRequest, "object id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := gateway.ParseRoute(tt.path)
			if err == nil {
				t.Fatalf("ParseRoute(%q) = %+v, want an error", tt.path, got)
			}
			if code := errcode.Of(err); code != tt.wantCode {
				t.Fatalf("ParseRoute(%q) code = %q (%v), want %q", tt.path, code, err, tt.wantCode)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("ParseRoute(%q) error = %q, want it to contain %q", tt.path, err, tt.wantMsg)
			}
		})
	}
}

func FuzzRoute(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzRoute.
	f.Fuzz(func(t *testing.T, path string) {
		rt, err := gateway.ParseRoute(path)
		if err != nil {
			if code := errcode.Of(err); code == errcode.Internal {
				t.Fatalf("ParseRoute(%q) error has no code: %v", path, err)
			}
			// Quoted input is cut at 80 bytes, so an error never echoes a long path.
			if n := len(err.Error()); n > 4*80+200 {
				t.Fatalf("ParseRoute(%q) error is %d bytes long", path, n)
			}
			return
		}
		if err := ids.ValidClass(rt.Class); err != nil {
			t.Fatalf("ParseRoute(%q) accepted class: %v", path, err)
		}
		for seg := range strings.SplitSeq(path, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("ParseRoute(%q) accepted a dot segment: routers would resolve it", path)
			}
		}
		if !strings.HasPrefix(rt.Rest, "/") {
			t.Fatalf("ParseRoute(%q).Rest = %q, want a leading /", path, rt.Rest)
		}
		if !rt.ByID {
			checkNamed(t, path, rt)
			return
		}
		segs := strings.SplitN(path, "/", 5)
		hex, err := url.PathUnescape(segs[3])
		if err != nil || rt.ID.String() != hex {
			t.Fatalf("ParseRoute(%q).ID = %s, want the path's ID %q", path, rt.ID, segs[3])
		}
	})
}

func checkNamed(t *testing.T, path string, rt gateway.Route) {
	t.Helper()
	if rt.Name == "" || len(rt.Name) > gateway.MaxNameLen || !utf8.ValidString(rt.Name) {
		t.Fatalf("ParseRoute(%q) accepted name %q", path, rt.Name)
	}
	if rt.ID != ids.FromName(rt.Class, rt.Name) {
		t.Fatalf("ParseRoute(%q).ID = %s, want FromName(%q, %q)", path, rt.ID, rt.Class, rt.Name)
	}
}
