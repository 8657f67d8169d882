package cluster_test

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/roost-dev/roost/test/internal/proc"
)

// `roost serve --nats-url` uses an existing NATS server with JetStream
// instead of embedding one: two nodes on it serve each other's objects.
func TestCluster_ExistingNATSServer(t *testing.T) {
	ns, err := server.NewServer(&server.Options{ServerName: "external", Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, StoreDir: t.TempDir(), SyncAlways: true, NoLog: true, NoSigs: true, MaxPayload: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	var urls []string
	for _, name := range []string{"a", "b"} {
		p := proc.Start(t, proc.Spec{Path: proc.Roost(t), Args: []string{"serve", "--addr", "127.0.0.1:0",
			"--data", filepath.Join(t.TempDir(), name), "--node", name, "--nats-url", ns.ClientURL(), "--replicas", "1",
			"--lease", "1s"}})
		urls = append(urls, p.URL())
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	for i := range 10 {
		name := objName("ext", i)
		must(t, hc, http.MethodPost, urls[i%2]+"/counter/"+name+"/increment", "")
		for _, u := range urls {
			if got := must(t, hc, http.MethodGet, u+"/counter/"+name, ""); got != `{"value":1}`+"\n" && got != `{"value":1}` {
				t.Fatalf("counter %s through %s = %q", name, u, got)
			}
		}
	}
}
