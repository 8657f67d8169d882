package node

import "testing"

// FuzzParseSocketCall feeds the parser of calls on sockets what a client
// may send: it never panics, and a call always names its method.
func FuzzParseSocketCall(f *testing.F) {
	f.Add([]byte(`{"rpc":"add","id":1,"params":{"by":5}}`))
	f.Add([]byte(`{"rpc":7}`))
	f.Add([]byte(`hello "rpc"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, ok := parseSocketCall(b); ok && c.RPC == nil {
			t.Fatal("a call without a method")
		}
	})
}
