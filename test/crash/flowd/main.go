// Command flowd is the server that TestCrash_WorkflowsSurviveKill9 kills:
// Roost with the workflow engine and one workflow, "five", whose instances
// (params {"n": int}) run five steps, s1 to s5, each of which appends one
// line to a log file. Only that test builds it.
//
// The workflow HTTP API is mounted at /workflows/ (see workflow.Prefix):
//
//	POST /workflows/five/instances        {"id":…, "params":{"n":N}} → 201, or 200 for an existing ID
//	GET  /workflows/five/instances/{id}   the instance's status, with each step's result
//	GET  /workflows/five/instances        the listing, from the engine's index
//
// Every execution of a step appends "<instance> <step> <token>\n" with one
// write(2) (O_APPEND), then waits a random time up to --step-delay, and
// returns the token as its result, which the journal records when the step
// commits. The token, "<pid>-<random>.<counter>", is unique to that
// execution (the random number tells apart two processes with the same
// pid), so the log tells which execution of a step the journal kept, and
// which ones a kill interrupted before their commit (they run again). The
// output of an instance is {"n": N, "tokens": [the five results]}.
//
// The class "ledger" hosts the workflow "tally" (see ledger.go): its steps
// write the host's own table in their transactions.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/test/crash/internal/crashd"
	"github.com/roost-dev/roost/workflow"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "flowd:", err)
		os.Exit(1)
	}
}

func run() error {
	crashd.SkipServe()
	clusterFlags := crashd.AddClusterFlags()
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (port 0 picks a free one)")
	data := flag.String("data", "", "data directory")
	steps := flag.String("steps", "", "file that every execution of a step appends a line to")
	stepDelay := flag.Duration("step-delay", 0, "each step waits a random time up to this after its line is written, before it returns")
	flag.Parse()
	cluster, err := clusterFlags.Config()
	if err != nil {
		return err
	}
	if *data == "" || *steps == "" {
		return errors.New("--data and --steps are required")
	}
	f, err := crashd.OpenLog(*steps)
	if err != nil {
		return err
	}
	defer f.Close()
	sl := &stepLog{f: f, proc: fmt.Sprintf("%d-%04x", os.Getpid(), rand.N(1<<16))}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	return crashd.Serve(log, *addr, *data, cluster, func(app *roost.App) func(context.Context) error {
		engine := workflow.New(app)
		defineFive(engine, sl, *stepDelay)
		registerLedger(app, engine, sl, *stepDelay)
		app.Handle(workflow.Prefix, engine.Handler())
		return engine.Close
	})
}

// Params are the params of an instance of "five".
type Params struct {
	N int `json:"n"`
}

// Output is the output of a complete instance of "five": its N and the
// results of its steps, in order.
type Output struct {
	N      int      `json:"n"`
	Tokens []string `json:"tokens"`
}

// stepNames are the steps of "five", in order.
var stepNames = []string{"s1", "s2", "s3", "s4", "s5"}

// defineFive defines the workflow "five" on e.
func defineFive(e *workflow.Engine, sl *stepLog, delay time.Duration) {
	workflow.Define(e, "five", func(ctx workflow.Context, p Params) (Output, error) {
		out := Output{N: p.N}
		for _, name := range stepNames {
			tok, err := workflow.Step(ctx, name, func(sc workflow.StepContext) (string, error) {
				return sl.record(sc, ctx.InstanceID(), delay)
			}, workflow.Retry{Limit: 3, Delay: 100 * time.Millisecond})
			if err != nil {
				return Output{}, err
			}
			out.Tokens = append(out.Tokens, tok)
		}
		return out, nil
	})
}

// stepLog is the file every execution of a step appends its line to.
type stepLog struct {
	f    *os.File
	proc string       // names this process in tokens: "<pid>-<random>"
	runs atomic.Int64 // executions of steps by this process
}

// record appends the line of one execution of the step sc of instance id,
// with a new token, then waits up to delay (so that kills often land in the
// middle of a step) and returns the token.
func (l *stepLog) record(sc workflow.StepContext, id string, delay time.Duration) (string, error) {
	tok := l.proc + "." + strconv.FormatInt(l.runs.Add(1), 10)
	if _, err := l.f.Write([]byte(id + " " + sc.Step() + " " + tok + "\n")); err != nil {
		return "", err
	}
	if delay > 0 {
		select {
		case <-time.After(rand.N(delay)):
		case <-sc.Done():
			return "", sc.Err()
		}
	}
	return tok, nil
}
