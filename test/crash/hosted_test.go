package crash

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The hosted crash test's shape.
const (
	hostedInstances = 400
	hostedHosts     = 4
	hostedKills     = 4
	hostedWorkers   = 16
)

// hostedTally is flowd's answer about an instance of "tally".
type hostedTally struct {
	Steps   int      `json:"steps"`
	Last    string   `json:"last"`
	Status  string   `json:"status"`
	Results []string `json:"results"`
}

// TestCrash_HostedStepAndRowCommitTogether runs instances of flowd's
// workflow "tally", hosted in "ledger" objects, whose three steps each add
// 1 to their instance's row in the host's own table in the step's
// transaction, and SIGKILLs the server at random moments while they run.
// Every instance must complete with its row counting exactly its three
// recorded steps, the last one's token in it: a kill between a step's write
// and its record would leave the count off by one (a write without its
// record runs again and counts twice; a record without its write, once too
// few). Executions that a kill cut off run again, and are counted.
func TestCrash_HostedStepAndRowCommitTogether(t *testing.T) {
	bin := buildServer(t, "flowd")
	for _, m := range binModes(bin) {
		if m.name == "cluster3_kill_all" {
			continue // kill_one covers the failover; kill_all is the single case three times
		}
		t.Run(m.name, func(t *testing.T) {
			steps := filepath.Join(t.TempDir(), "steps.log")
			sys := m.start(t, "--steps", steps, "--step-delay", wfStepDelay.String())
			hostedSurviveKill9(t, sys, steps)
		})
	}
}

func hostedSurviveKill9(t *testing.T, sys system, steps string) {
	sup := newSupervisor(t, sys)
	path := func(i int) string { return fmt.Sprintf("/ledger/h%d/tally/i%04d", i%hostedHosts, i) }
	var next, unknown atomic.Int64
	var mu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range hostedWorkers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < hostedInstances; i = int(next.Add(1) - 1) {
				for attempt := 1; ; attempt++ {
					ep, epoch, restarted := sup.currentAndNext()
					status, body, err := post(ep, path(i), nil)
					if err == nil && (status == http.StatusCreated || status == http.StatusOK) {
						break
					}
					if err == nil && !sup.resend(status, epoch) || attempt == wfMaxCreateAttempts {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("create %s (attempt %d): %d %s %v", path(i), attempt, status, body, err))
						mu.Unlock()
						break
					}
					unknown.Add(1)
					select {
					case <-stop:
						return
					case <-restarted:
					case <-time.After(time.Second):
					}
				}
			}
		})
	}
	defer wg.Wait()
	defer close(stop)
	for k := range hostedKills {
		delay := time.Second + rand.N(1500*time.Millisecond)
		if k == 0 {
			delay = 200*time.Millisecond + rand.N(800*time.Millisecond)
		}
		time.Sleep(delay)
		sup.restart(t)
	}
	drain := time.Now()
	deadline := drain.Add(wfDrainTimeout)
	wg.Wait()
	mu.Lock()
	for _, f := range failures {
		t.Error(f)
	}
	mu.Unlock()

	bad := 0
	for i := range hostedInstances {
		var got hostedTally
		for {
			var err error
			got, err = getTally(sup.current(), path(i))
			if err == nil && got.Status == "complete" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not complete within %v of the last kill: %+v, %v", path(i), wfDrainTimeout, got, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got.Steps != len(got.Results) || got.Steps != 3 || got.Last != got.Results[len(got.Results)-1] {
			bad++
			if bad <= 10 {
				t.Errorf("%s: the row counts %d steps (last %q), the journal holds %d (%v)", path(i), got.Steps, got.Last, len(got.Results), got.Results)
			}
		}
	}
	executions := stepExecutions(t, steps)
	reruns := total(executions) - 3*hostedInstances
	t.Logf("%v: kills=%d instances=%d in %d hosts, create attempts without an answer=%d; step executions=%d (re-runs of steps a kill cut off: %d); rows off their journal: %d; drain=%v",
		sys, hostedKills, hostedInstances, hostedHosts, unknown.Load(), total(executions), reruns, bad, time.Since(drain).Round(time.Millisecond))
}

// getTally GETs an instance's row and status from flowd.
func getTally(ep endpoint, path string) (hostedTally, error) {
	var got hostedTally
	resp, err := ep.httpClient().Get(ep.base() + path)
	if err != nil {
		return got, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if err == nil {
		err = json.Unmarshal(b, &got)
	}
	return got, err
}

// stepExecutions counts the executions of steps in flowd's log, by
// instance.
func stepExecutions(t *testing.T, path string) map[string]int {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read step log: %v", err)
	}
	n := map[string]int{}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) == 3 {
			n[f[0]]++
		}
	}
	return n
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
