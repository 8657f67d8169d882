package workflow_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: a run, a
// step's event, the index's flusher, a startup check.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
