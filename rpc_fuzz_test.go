package roost

import (
	"testing"

	"github.com/roost-dev/roost/internal/errcode"
)

// FuzzRPCWire feeds a class the bytes a call from another node would carry:
// any method name and payload. The call either answers, or fails with a code
// that says why (never internal for bad input, never a panic); and any bytes
// read as an error reply become an error with a code.
func FuzzRPCWire(f *testing.F) {
	f.Add("set", []byte(`{"n":7}`))
	f.Add("set", []byte(`{"n":"x"}`))
	f.Add("set", []byte(`{`))
	f.Add("get", []byte(`{}`))
	f.Add("", []byte(`null`))
	f.Add("set", []byte(`{"code":"timeout","message":"m"}`))
	ns := openBoxes(f)
	stub := ns.GetByName("fuzz")
	f.Fuzz(func(t *testing.T, method string, payload []byte) {
		if method == boxFunc.Name() {
			return // answers with what JSON cannot encode, on purpose
		}
		_, err := stub.call(t.Context(), method, payload)
		switch code := errcode.Of(err); code {
		case "", errcode.BadRequest, errcode.UnknownMethod:
		default:
			t.Fatalf("call %q with %q: %v (code %s)", method, payload, err, code)
		}
		if err := decodeError(payload); errcode.Of(err) == "" {
			t.Fatalf("decodeError(%q) = %v: no code", payload, err)
		}
	})
}
