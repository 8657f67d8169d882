package scheduler

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: the loop
// or a Fire call.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
