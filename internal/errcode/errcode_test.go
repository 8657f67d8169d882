package errcode

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// sentinel carries its code through its own method, as the leaves' errors
// do.
type sentinel struct{}

func (sentinel) Error() string     { return "sentinel" }
func (sentinel) ErrorCode() string { return string(InvalidID) }

func TestOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want Code
	}{
		{"nil", nil, ""},
		{"coded", New(LimitExceeded, "too big"), LimitExceeded},
		{"wrapped coded", fmt.Errorf("put: %w", New(StorageFull, "disk full")), StorageFull},
		{"own code method", fmt.Errorf("parse: %w", sentinel{}), InvalidID},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), Timeout},
		{"canceled", context.Canceled, Canceled},
		{"plain", errors.New("boom"), Internal},
		{"outer code wins", New(HandlerError, "x"), HandlerError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Of(c.err); got != c.want {
				t.Fatalf("Of(%v) = %q, want %q", c.err, got, c.want)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	for code, want := range statuses {
		if got := Status(code); got != want {
			t.Errorf("Status(%q) = %d, want %d", code, got, want)
		}
	}
	if got := Status("no_such_code"); got != http.StatusInternalServerError {
		t.Errorf("Status(unknown) = %d, want 500", got)
	}
}

func TestWrapNil(t *testing.T) {
	t.Parallel()
	if Wrap(Internal, nil) != nil {
		t.Fatal("Wrap(nil) != nil")
	}
}
