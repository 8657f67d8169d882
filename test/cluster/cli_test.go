package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/roost-dev/roost/test/internal/proc"
)

// cliRun is one run of the roost binary's CLI.
type cliRun struct {
	stdout, stderr string
	code           int // exit code
}

// roostCLI runs the roost binary (built from ./cmd/roost) with args, for
// at most 2 minutes, and returns its output and exit code.
func roostCLI(t *testing.T, args ...string) cliRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, proc.Roost(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	run := cliRun{stdout: out.String(), stderr: errOut.String()}
	if exit, ok := errors.AsType[*exec.ExitError](err); ok {
		run.code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("roost %v: %v", args, err)
	}
	return run
}
