package roost_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: an object's
// mailbox, a timer callback, a connection of the gateway.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
