package linear

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// DefaultTimeout bounds a check when Check is given no timeout.
const DefaultTimeout = 60 * time.Second

// Result is what a check found.
type Result struct {
	Outcome    porcupine.CheckResult // Ok, Illegal, or Unknown (the time bound passed)
	Operations int                   // operations checked
	Pending    int                   // of which with an unknown outcome
	Histories  int                   // independent histories (one per key) checked
	Took       time.Duration
	// Visualization is the path of porcupine's HTML view of the history,
	// written when the outcome is not Ok (empty if writing it failed).
	Visualization string
}

// Verify checks ops against model within timeout (0 means DefaultTimeout).
// When the outcome is not Ok it writes a visualization into dir (os.TempDir()
// when empty), which outlives the test for a person to open.
func Verify(model porcupine.Model, ops []porcupine.Operation, timeout time.Duration, dir, name string) (Result, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	res := Result{Operations: len(ops), Pending: pending(ops), Histories: len(model.Partition(ops))}
	start := time.Now()
	outcome, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	res.Outcome, res.Took = outcome, time.Since(start)
	if outcome == porcupine.Ok {
		return res, nil
	}
	f, err := os.CreateTemp(dir, "porcupine-"+safe(name)+"-*.html")
	if err != nil {
		return res, fmt.Errorf("create visualization: %w", err)
	}
	defer f.Close()
	if err := porcupine.Visualize(model, info, f); err != nil {
		return res, fmt.Errorf("write visualization: %w", err)
	}
	res.Visualization = f.Name()
	return res, nil
}

// Check verifies the recorded operations against model within timeout (0
// means DefaultTimeout), logs how many operations and histories it checked,
// and fails the test (Errorf) when the history is not linearizable or the
// check could not finish in time, naming the visualization file.
func Check(t testing.TB, model porcupine.Model, ops []porcupine.Operation, timeout time.Duration) Result {
	t.Helper()
	res, err := Verify(model, ops, timeout, "", t.Name())
	t.Logf("linearizability: %s; %d operations (%d with unknown outcome), %d histories, checked in %v",
		res.Outcome, res.Operations, res.Pending, res.Histories, res.Took.Round(time.Millisecond))
	switch {
	case err != nil:
		t.Errorf("linearizability: %v", err)
	case res.Outcome == porcupine.Illegal:
		t.Errorf("linearizability: the history is not linearizable; see %s", res.Visualization)
	case res.Outcome == porcupine.Unknown:
		t.Errorf("linearizability: the check did not finish within its time bound; partial view in %s", res.Visualization)
	}
	return res
}

func pending(ops []porcupine.Operation) int {
	n := 0
	for _, op := range ops {
		if op.Return == math.MaxInt64 {
			n++
		}
	}
	return n
}

// safe keeps a test name usable in a file name.
func safe(name string) string {
	return regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(name, "_")
}
