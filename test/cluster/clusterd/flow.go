package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/workflow"
)

// FlowParams are the params of an instance of the workflow "flow": step s1,
// a sleep "nap" of SleepMS (none if 0), steps x0 to x<Steps-1>, a wait for
// an event "go" if Wait, then step s2. Every step waits DelayMS after its
// line is logged, before it returns. With RetryMS, the first attempt of
// step x0 fails (before it logs anything) and the step is retried RetryMS
// later.
type FlowParams struct {
	SleepMS int  `json:"sleep_ms"`
	RetryMS int  `json:"retry_ms"`
	Steps   int  `json:"steps"`
	Wait    bool `json:"wait"`
	DelayMS int  `json:"delay_ms"`
}

// stepLog is the --wf-steps file: every execution of a step of "flow"
// appends "<instance> <step> <token> <node> <unix ms>\n" with one write(2)
// (O_APPEND), and returns the token, unique to that execution, as its
// result: the log tells which execution the journal kept.
type stepLog struct {
	mu   sync.Mutex
	path string
	node string
	proc string // pid and a random number: two processes never share it
	n    atomic.Int64
}

func (l *stepLog) record(id, step string) (string, error) {
	tok := l.proc + "." + strconv.FormatInt(l.n.Add(1), 10)
	if l.path == "" {
		return tok, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "%s %s %s %s %d\n", id, step, tok, l.node, time.Now().UnixMilli())
	return tok, err
}

// startFlow starts the workflow engine with "flow", and mounts its HTTP
// API. Close the engine before the app.
func startFlow(app *roost.App, node, path string, retention time.Duration) *workflow.Engine {
	e := workflow.NewWithOptions(app, workflow.Options{Retention: retention})
	l := &stepLog{path: path, node: node, proc: fmt.Sprintf("%d-%04x", os.Getpid(), rand.N(1<<16))}
	workflow.Define(e, "flow", func(ctx workflow.Context, p FlowParams) (int, error) {
		retry := workflow.Retry{Limit: 3, Delay: time.Duration(p.RetryMS) * time.Millisecond}
		step := func(name string) error {
			_, err := workflow.Step(ctx, name, func(sc workflow.StepContext) (string, error) {
				if p.RetryMS > 0 && name == "x0" && sc.Attempt() == 1 {
					return "", errors.New("the first attempt of x0 fails")
				}
				tok, err := l.record(ctx.InstanceID(), name)
				if err == nil && p.DelayMS > 0 {
					clock.Sleep(sc, time.Duration(p.DelayMS)*time.Millisecond)
				}
				return tok, err
			}, retry)
			return err
		}
		if err := step("s1"); err != nil {
			return 0, err
		}
		if p.SleepMS > 0 {
			if err := workflow.Sleep(ctx, "nap", time.Duration(p.SleepMS)*time.Millisecond); err != nil {
				return 0, err
			}
		}
		for k := range p.Steps {
			if err := step("x" + strconv.Itoa(k)); err != nil {
				return 0, err
			}
		}
		if p.Wait {
			if _, err := workflow.WaitForEvent[any](ctx, "go", "go", time.Hour); err != nil {
				return 0, err
			}
		}
		return 2 + p.Steps, step("s2")
	})
	app.Handle(workflow.Prefix, e.Handler())
	return e
}
