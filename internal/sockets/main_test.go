package sockets

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: a
// socket's reader or writer, the hub's watchdog, a test's client.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
