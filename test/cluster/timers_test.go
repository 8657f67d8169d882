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

	"github.com/roost-dev/roost/test/internal/cluster"
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

// A node that owned an object's shard before, and wrote the object's wake
// then, must write the wake of a timer set when the shard comes back to it:
// the owners in between may have cleared it (here: fired the object's last
// timer). Otherwise the timer lives only in that node's memory, and is lost
// when the node dies before it is due.
func TestCluster_TimerSetWhenAShardCameBackSurvivesAKill(t *testing.T) {
	fires := filepath.Join(t.TempDir(), "fires.log")
	c := start(t, 3, "--fires", fires)
	n1 := c.Nodes[0]
	name := ""
	for i := 0; i < 100 && name == ""; i++ { // a ticker that n1 owns
		if owner := must(t, c.Client(), http.MethodGet, n1.URL+"/ticker/"+objName("back", i), ""); owner == n1.Name {
			name = objName("back", i)
		}
	}
	if name == "" {
		t.Fatal("n1 owns none of 100 tickers")
	}
	arm := func(via *cluster.Node, at int64) string {
		body, _ := json.Marshal(map[string]any{"name": name, "alarm": at})
		return must(t, c.Client(), http.MethodPost, via.URL+"/ticker/"+name, string(body))
	}
	ownerIs := func(want string) {
		deadline := time.Now().Add(30 * time.Second)
		for must(t, c.Client(), http.MethodGet, c.Nodes[2].URL+"/ticker/"+name, "") != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not move to %s within 30s", name, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	alarm := func(at int64) map[string]map[string]bool {
		return map[string]map[string]bool{name: {fmt.Sprintf("alarm@%d", at): true}}
	}
	nodeNamed := func(name string) *cluster.Node {
		for _, n := range c.Nodes {
			if n.Name == name {
				return n
			}
		}
		t.Fatalf("no node %s", name)
		return nil
	}
	takenFromN1 := func() string {
		deadline := time.Now().Add(30 * time.Second)
		for {
			if owner := must(t, c.Client(), http.MethodGet, c.Nodes[2].URL+"/ticker/"+name, ""); owner != "" && owner != n1.Name {
				return owner
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not move from n1 within 30s", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// n1 dies; b, one of the others, takes the shard over and writes the
	// wake of an alarm, which n1 replaces before it is due.
	n1.Kill(t)
	bNode := nodeNamed(takenFromN1())
	first := time.Now().Add(5 * time.Second).UnixMilli()
	arm(bNode, first)
	for try := 1; ; try++ {
		// n1 comes back and gets the shard back; it replaces the alarm
		// with one that fires at once, the object's last timer: its wake
		// is cleared.
		n1.Start(t)
		n1.WaitReady(t)
		ownerIs(n1.Name)
		soon := time.Now().Add(time.Second).UnixMilli()
		arm(n1, soon)
		waitFires(t, fires, alarm(soon))
		// n1 dies again, and b must take the shard again. Which of the
		// others takes it is a race: when the other one wins, it becomes
		// b (it writes a wake of its own) and the round starts again.
		n1.Kill(t)
		owner := takenFromN1()
		if owner == bNode.Name {
			break
		}
		if try == 5 {
			t.Fatalf("%s went to another node than the one that wrote its wake before, %d times", name, try)
		}
		bNode = nodeNamed(owner)
		first = max(time.Now().Add(5*time.Second).UnixMilli(), first+1)
		arm(bNode, first)
	}
	// b sets an alarm: b must write its wake, though it wrote one before.
	later := max(time.Now().Add(8*time.Second).UnixMilli(), first+1) // not before what b wrote
	arm(bNode, later)
	n1.Start(t) // a quorum without b
	n1.WaitReady(t)
	bNode.Kill(t)
	waitFires(t, fires, alarm(later))
}
