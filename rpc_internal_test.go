package roost

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// box is an object for the RPC tests that need the package's insides.
type box struct{ n int }

type setRequest struct {
	N int `json:"n"`
}

var (
	boxSet = NewMethod("set", func(b *box, ctx context.Context, req setRequest) (int, error) {
		b.n = req.N
		return b.n, nil
	})
	// boxFunc answers what JSON cannot encode.
	boxFunc = NewMethod("func", func(b *box, ctx context.Context, _ struct{}) (func(), error) {
		return func() {}, nil
	})
)

// openBoxes opens an app on a temporary directory with the class "box",
// closed on cleanup.
func openBoxes(t testing.TB) *Namespace {
	t.Helper()
	app, err := Open(t.Context(), Config{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeTestApp(t, app) })
	return RegisterWithOptions(app, "box", func(*State) (*box, error) { return &box{}, nil },
		&ClassOptions{Methods: []MethodHandler{boxSet, boxFunc}})
}

// TestRPC_BytesPath sends calls as bytes, as they arrive from another node:
// the method is found by name, and what does not decode or encode fails.
func TestRPC_BytesPath(t *testing.T) {
	t.Parallel()
	boxes := openBoxes(t)
	stub := boxes.GetByName("a")
	tests := []struct {
		name, method, payload string
		code                  string
		message               string // a part of the error's message
		reply                 string
	}{
		{name: "ok", method: "set", payload: `{"n":7}`, reply: "7"},
		{name: "payload of another type", method: "set", payload: `{"n":"seven"}`, code: "bad_request", message: "method set: decode request"},
		{name: "payload not JSON", method: "set", payload: `{`, code: "bad_request", message: "method set: decode request"},
		{name: "unknown method", method: "get", payload: `{}`, code: "unknown_method", message: `class box has no RPC method "get"`},
		{name: "response not encodable", method: "func", payload: `{}`, code: "internal", message: "method func: encode response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, err := stub.call(t.Context(), tt.method, []byte(tt.payload))
			if got := ErrorCode(err); err != nil && got != tt.code || err == nil && tt.code != "" {
				t.Fatalf("call %s(%s) = %v (code %q), want code %q", tt.method, tt.payload, err, got, tt.code)
			}
			if err != nil && !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q, want it to contain %q", err, tt.message)
			}
			if string(reply) != tt.reply {
				t.Errorf("reply = %q, want %q", reply, tt.reply)
			}
		})
	}
}

func TestRPC_ServeDecodesIntoAFreshRequest(t *testing.T) {
	t.Parallel()
	b := &box{n: 3}
	if _, err := boxSet.serve(t.Context(), b, []byte(`{"n":[1]}`)); ErrorCode(err) != "bad_request" {
		t.Fatalf("serve of a payload of another type = %v, want code bad_request", err)
	}
	if b.n != 3 {
		t.Errorf("the method ran on a request that did not decode")
	}
	if _, err := boxSet.serve(t.Context(), struct{}{}, []byte(`{}`)); ErrorCode(err) != "internal" {
		t.Errorf("serve on an object of another type = %v, want code internal", err)
	}
}

func TestRPC_ErrorsOverWire(t *testing.T) {
	t.Parallel()
	cause := errors.New("cause")
	tests := []struct {
		name      string
		err       error
		code, msg string
		is        error // an error the result must match, if any
	}{
		{name: "custom code", err: NewError("insufficient_funds", "too low"), code: "insufficient_funds", msg: "too low"},
		{name: "wrapped code", err: errors.Join(cause, NewError("x_y", "inner")), code: "x_y", msg: "cause\ninner"},
		{name: "deadline", err: context.DeadlineExceeded, code: "timeout", msg: "context deadline exceeded", is: context.DeadlineExceeded},
		{name: "canceled", err: context.Canceled, code: "canceled", msg: "context canceled", is: context.Canceled},
		{name: "sentinel", err: ErrOverloaded, code: "overloaded", msg: ErrOverloaded.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := overWire(tt.err)
			var e *Error
			if !errors.As(err, &e) || string(e.Code) != tt.code || e.Message != tt.msg {
				t.Fatalf("overWire(%q) = %#v, want code %s, message %q", tt.err, err, tt.code, tt.msg)
			}
			if errors.Is(err, cause) {
				t.Error("the cause crossed the wire")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("the result does not match %v", tt.is)
			}
		})
	}
	for _, b := range []string{``, `{`, `{"message":"no code"}`, `[]`} {
		if err := decodeError([]byte(b)); ErrorCode(err) != "internal" {
			t.Errorf("decodeError(%q) = %v, want code internal", b, err)
		}
	}
}
