package gateway

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
)

// MaxNameLen is the longest object name, in bytes after percent-decoding,
// that [ParseRoute] accepts.
const MaxNameLen = 512

// maxQuote bounds how much of a rejected path segment an error repeats, so a
// client cannot make the server echo a large input.
const maxQuote = 80

// Route is an object path taken apart by [ParseRoute].
type Route struct {
	// Class is the object's class, percent-decoded. It passes ids.ValidClass;
	// whether it is registered is for the caller to check.
	Class string
	// Name is the percent-decoded object name; it is empty when ByID is set.
	Name string
	// ID is the object's ID: ids.FromName(Class, Name), or the parsed hex ID.
	ID ids.ID
	// ByID reports whether the path named the object by its hex ID.
	ByID bool
	// Rest is the rest of the path after the name or ID, still escaped as in
	// the request. It always starts with "/": both /counter/foo and
	// /counter/foo/ give "/".
	Rest string
}

// ParseRoute takes apart the escaped path of an object request (as from
// url.URL.EscapedPath). It accepts two forms:
//
//	/{class}/{name}/rest...     the object called name in class
//	/{class}/id/{hexid}/rest... the object with that ID, 64 lowercase hex characters
//
// Each segment is percent-decoded on its own, so a name may hold an encoded
// slash (%2F). Decoding happens before the "id" segment is recognised, as RFC
// 3986 makes %69d and id the same path, so an object named "id" is reachable
// only by its hex ID.
//
// Errors carry a code for the HTTP answer: not_found for a path with fewer
// than two segments, unknown_class for a class name that breaks the naming
// rules, invalid_id for a bad hex ID, and bad_request for bad percent-encoding,
// a "." or ".." segment anywhere (see [CheckPath]), or a name that is empty,
// over [MaxNameLen] bytes or not valid UTF-8.
func ParseRoute(escapedPath string) (Route, error) {
	if err := CheckPath(escapedPath); err != nil {
		return Route{}, err
	}
	p, ok := strings.CutPrefix(escapedPath, "/")
	classSeg, p, found := strings.Cut(p, "/")
	if !ok || !found {
		return Route{}, errcode.New(errcode.NotFound, "no route for path %s; objects live at /{class}/{name}/... or /{class}/id/{hexid}/...", quote(escapedPath))
	}
	class, err := parseClass(classSeg)
	if err != nil {
		return Route{}, err
	}
	nameSeg, rest, _ := strings.Cut(p, "/")
	name, err := unescape("object name", nameSeg)
	if err != nil {
		return Route{}, err
	}
	rt := Route{Class: class}
	if name == "id" {
		rt.ByID = true
		hexSeg, after, _ := strings.Cut(rest, "/")
		if rt.ID, err = parseHexID(hexSeg); err != nil {
			return Route{}, err
		}
		rest = after
	} else {
		if err := checkName(name); err != nil {
			return Route{}, err
		}
		rt.Name, rt.ID = name, ids.FromName(class, name)
	}
	rt.Rest = "/" + rest
	if _, err := unescape("path", rt.Rest); err != nil {
		return Route{}, err
	}
	return rt, nil
}

func parseClass(seg string) (string, error) {
	class, err := unescape("class name", seg)
	if err != nil {
		return "", err
	}
	if err := ids.ValidClass(class); err != nil {
		return "", &errcode.Error{Code: errcode.UnknownClass, Message: "unknown class: " + err.Error(), Err: err}
	}
	return class, nil
}

func parseHexID(seg string) (ids.ID, error) {
	hexID, err := unescape("object id", seg)
	if err != nil {
		return ids.ID{}, err
	}
	id, err := ids.Parse(hexID)
	if err != nil {
		return ids.ID{}, errcode.Wrap(errcode.InvalidID, err)
	}
	return id, nil
}

func checkName(name string) error {
	switch {
	case name == "":
		return errcode.New(errcode.BadRequest, "empty object name; use /{class}/{name}/...")
	case len(name) > MaxNameLen:
		return errcode.New(errcode.BadRequest, "object name is %d bytes, want at most %d", len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return errcode.New(errcode.BadRequest, "object name %s is not valid UTF-8", quote(name))
	}
	return nil
}

// unescape percent-decodes one path segment, or a whole path, naming what it
// is in the error.
func unescape(what, s string) (string, error) {
	v, err := url.PathUnescape(s)
	if err != nil {
		return "", errcode.New(errcode.BadRequest, "bad percent-encoding in %s %s", what, quote(s))
	}
	return v, nil
}

// quote returns s quoted, cut to maxQuote bytes with a trailing "..." marker
// when it is longer.
func quote(s string) string {
	if len(s) <= maxQuote {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...", s[:maxQuote])
}
