package shards

import (
	"fmt"
	"testing"
)

// TestPreferredSpreadsShards checks that rendezvous placement gives every
// member of a cluster a share of the shards: a node that is preferred for
// none never serves anything (with plain FNV-1a, n3 of n1..n3 got 0 of 64).
func TestPreferredSpreadsShards(t *testing.T) {
	for _, names := range [][]string{{"n1", "n2", "n3"}, {"node-1", "node-2", "node-3"}, {"a", "b", "c"}, {"n1", "n2"}, {"n2", "n3"}} {
		per := map[string]int{}
		for s := range 64 {
			per[preferred(s, names)]++
		}
		for _, n := range names {
			if per[n] < 64/len(names)/2 {
				t.Errorf("members %v: %s is preferred for %d of 64 shards; spread %v", names, n, per[n], per)
			}
		}
		t.Log(fmt.Sprint(names, per))
	}
}
