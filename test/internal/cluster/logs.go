package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// keepLogs copies every node's whole log out of the test's temporary
// directory when the test failed, and names the copy: a failure across
// three nodes often needs more than the tails in the messages.
func (c *Cluster) keepLogs(t testing.TB) {
	if !t.Failed() || len(c.Nodes) == 0 {
		return
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")
	dir, err := os.MkdirTemp("", "roost-cluster-"+name+"-")
	if err != nil {
		t.Logf("keep the nodes' logs: %v", err)
		return
	}
	for _, n := range c.Nodes {
		if err := copyFile(n.LogFile, filepath.Join(dir, n.Name+".log")); err != nil {
			t.Logf("keep %s's log: %v", n.Name, err)
		}
	}
	t.Logf("the nodes' logs are in %s", dir)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if os.IsNotExist(err) {
		return nil // the node never started
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", from, err)
	}
	return os.WriteFile(to, b, 0o644)
}
