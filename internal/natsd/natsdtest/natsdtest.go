// Package natsdtest starts groups of cluster members for the tests of the
// packages built on internal/natsd: free loopback route addresses, and
// members started at once (each one's routes wait for the others).
package natsdtest

import (
	"net"
	"sync"
	"testing"
)

// Start starts n members at once with start, which gets its index, its
// own route address and the others' (to join), and reports false when it
// failed (having reported why on t). The test stops if any failed.
func Start[T any](t *testing.T, n int, start func(i int, addr string, join []string) (T, bool)) []T {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = freeAddr(t)
	}
	members := make([]T, n)
	ok := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { members[i], ok[i] = start(i, addrs[i], others(addrs, i)) })
	}
	wg.Wait()
	for _, started := range ok {
		if !started {
			t.FailNow()
		}
	}
	return members
}

// others returns addrs without its i-th.
func others(addrs []string, i int) []string {
	var out []string
	for j, a := range addrs {
		if j != i {
			out = append(out, a)
		}
	}
	return out
}

// freeAddr returns a free loopback address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
