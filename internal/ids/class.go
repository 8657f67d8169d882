package ids

import "fmt"

// ErrInvalidClass is wrapped by every error that [ValidClass] returns. Its
// code is invalid_class.
var ErrInvalidClass error = &codedError{msg: "invalid class name", code: "invalid_class"}

// MaxClassLen is the longest class name that [ValidClass] accepts.
const MaxClassLen = 63

// reserved are the class names that would collide with Roost's own URL paths
// (/admin, /healthz, ...) or with its internal tables (_roost).
var reserved = map[string]bool{
	"id":        true,
	"admin":     true,
	"workflows": true,
	"metrics":   true,
	"healthz":   true,
	"static":    true,
	"_roost":    true,
}

// ValidClass reports whether name can name a class: 1 to 63 bytes, a
// lowercase ASCII letter first, then lowercase letters, digits, '_' or '-'.
// The names id, admin, workflows, metrics, healthz, static and _roost are
// reserved. The error wraps [ErrInvalidClass] and says which rule failed.
func ValidClass(name string) error {
	if why := classProblem(name); why != "" {
		return fmt.Errorf("%w %s: %s", ErrInvalidClass, quote(name), why)
	}
	return nil
}

func classProblem(name string) string {
	switch {
	case name == "":
		return "empty"
	case len(name) > MaxClassLen:
		return fmt.Sprintf("length %d, want at most %d", len(name), MaxClassLen)
	case reserved[name]:
		return "reserved"
	case !isLower(name[0]):
		return "must start with a-z"
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !isLower(c) && !isDigit(c) && c != '_' && c != '-' {
			return fmt.Sprintf("byte %d is %s, want a-z, 0-9, '_' or '-'", i, quoteByte(c))
		}
	}
	return ""
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
