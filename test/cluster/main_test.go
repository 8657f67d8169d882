// Package cluster_test runs Roost's cluster mode as several real processes
// on loopback (test/internal/cluster) and checks its promises: any node
// serves any object, single activation, no acknowledged write lost when an
// owner is killed, paused or partitioned, and linearizable histories.
package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/cluster"
	"github.com/roost-dev/roost/test/internal/proc"
)

func TestMain(m *testing.M) { os.Exit(proc.Main(m)) }

// lease is the nodes' shard lease in these tests.
const lease = 2 * time.Second

// start starts n clusterd nodes.
func start(t *testing.T, n int, args ...string) *cluster.Cluster {
	t.Helper()
	return cluster.Start(t, n, &cluster.Options{Bin: proc.Build(t, "github.com/roost-dev/roost/test/cluster/clusterd"), Lease: lease, Args: args})
}

// rounds is how many kill rounds a test runs: ROOST_CLUSTER_ROUNDS, or def.
func rounds(def int) int {
	if n, err := strconv.Atoi(os.Getenv("ROOST_CLUSTER_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return def
}

// do sends one request and returns its status and body; an error means the
// outcome is unknown (no answer).
func do(ctx context.Context, c *http.Client, method, url, body string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// must sends a request that must succeed (see retry).
func must(t *testing.T, c *http.Client, method, url, body string) string {
	t.Helper()
	got, err := retry(context.Background(), c, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// retry sends a request until it succeeds, again while the cluster answers
// 503 (an object moving) or does not answer, for up to 30 s.
func retry(ctx context.Context, c *http.Client, method, url, body string) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		status, got, err := do(rctx, c, method, url, body)
		cancel()
		if err == nil && status == http.StatusOK {
			return got, nil
		}
		if time.Now().After(deadline) || (err == nil && status != http.StatusServiceUnavailable) {
			return "", fmt.Errorf("%s %s: status %d, %q, %v", method, url, status, got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func objName(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }

// isRefused reports whether err is a refused connection: the request never
// reached a node.
func isRefused(err error) bool {
	return err != nil && errors.Is(err, syscall.ECONNREFUSED)
}
