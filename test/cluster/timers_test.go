package cluster_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fire is one line of clusterd's --fires log.
type fire struct{ name, id, node string }

func readFires(t *testing.T, path string) []fire {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []fire
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 4 {
			out = append(out, fire{f[0], f[1], f[3]})
		}
	}
	return out
}

func TestCluster_TimersFireOnTheNewOwner(t *testing.T) {
	fires := filepath.Join(t.TempDir(), "fires.log")
	c := start(t, 3, "--fires", fires)
	base := time.Now().Add(6 * time.Second).UnixMilli()
	want := map[string]map[string]bool{} // ticker → fire IDs
	owner := map[string]string{}
	for i := range 18 {
		name := objName("tick", i)
		alarm, t1, t2 := base+int64(i)*10, base+100, base+2000
		body, _ := json.Marshal(map[string]any{"name": name, "alarm": alarm, "timers": map[string]int64{"t1": t1, "t2": t2}})
		owner[name] = must(t, c.Client(), http.MethodPost, c.URL()+"/ticker/"+name, string(body))
		want[name] = map[string]bool{fmt.Sprintf("alarm@%d", alarm): true, fmt.Sprintf("t1@%d", t1): true, fmt.Sprintf("t2@%d", t2): true}
	}
	victim := c.Nodes[0]
	for _, n := range c.Nodes { // the owner of the first ticker
		if n.Name == owner["tick-0"] {
			victim = n
		}
	}
	victim.Kill(t)
	if time.Now().UnixMilli() >= base {
		t.Fatalf("arming took too long: %s was killed after the first timer was due", victim.Name)
	}
	waitFires(t, fires, want)
	for _, f := range readFires(t, fires) {
		if !want[f.name][f.id] {
			t.Errorf("%s: unexpected fire %s on %s", f.name, f.id, f.node)
		}
		if f.node == victim.Name {
			t.Errorf("%s: fire %s ran on %s, killed before it was due", f.name, f.id, f.node)
		}
	}
	moved := 0
	for _, n := range owner {
		if n == victim.Name {
			moved++
		}
	}
	t.Logf("%d tickers, %d of them on %s (killed): every alarm and timer fired, the killed node's on their new owners", len(want), moved, victim.Name)
}

// waitFires waits, up to 60 s, until every wanted fire is in the log.
func waitFires(t *testing.T, path string, want map[string]map[string]bool) {
	t.Helper()
	var missing []string
	for range 600 {
		got := map[fire]bool{}
		for _, f := range readFires(t, path) {
			got[fire{f.name, f.id, ""}] = true
		}
		missing = missing[:0]
		for name, ids := range want {
			for id := range ids {
				if !got[fire{name, id, ""}] {
					missing = append(missing, name+" "+id)
				}
			}
		}
		if len(missing) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%d fires never ran within 60 s: %v", len(missing), missing)
}
