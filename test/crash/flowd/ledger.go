package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/workflow"
)

// The class "ledger" hosts instances of the workflow "tally" (workflow.Host):
// each instance has a row in its host's table "tally", created in the same
// event as the instance, and each of its three steps t1, t2, t3 logs its
// execution (as five's steps do), then adds 1 to the row's steps and sets
// its last to the step's token, in the step's transaction:
//
//	POST /ledger/{host}/tally/{id}   → 201, or 200 if it exists
//	GET  /ledger/{host}/tally/{id}   → {"steps":N,"last":…,"status":…,"results":[…]}
//
// If a step's write and its record did not commit together, a kill between
// them would leave the row's steps unequal to the records (a step's write
// without its record runs again and counts twice; a record without its
// write counts once too few).

// tallySteps are the steps of "tally", in order.
var tallySteps = []string{"t1", "t2", "t3"}

// Tally is what GET answers about an instance of "tally".
type Tally struct {
	Steps   int      `json:"steps"`
	Last    string   `json:"last"`
	Status  string   `json:"status"`
	Results []string `json:"results"`
}

// ledger is a host object.
type ledger struct {
	st    *roost.State
	wf    *workflow.Host
	tally *workflow.Workflow[string, int]
}

func (l *ledger) WorkflowHost() *workflow.Host { return l.wf }

func (l *ledger) Timer(ctx context.Context, f roost.TimerFire) error {
	_, err := l.wf.Timer(ctx, f)
	return err
}

// registerLedger registers the class "ledger" and defines "tally" on e.
func registerLedger(app *roost.App, e *workflow.Engine, sl *stepLog, delay time.Duration) {
	tally := workflow.Define(e, "tally", func(ctx workflow.Context, id string) (int, error) {
		for _, name := range tallySteps {
			_, err := workflow.Step(ctx, name, func(sc workflow.StepContext) (string, error) {
				tok, err := sl.record(sc, id, delay)
				if err != nil {
					return "", err
				}
				_, err = sc.Host().Exec(sc, `UPDATE tally SET steps = steps + 1, last = ? WHERE id = ?`, tok, id)
				return tok, err
			}, workflow.Retry{Limit: 3, Delay: 100 * time.Millisecond})
			if err != nil {
				return 0, err
			}
		}
		return len(tallySteps), nil
	})
	roost.Register(app, "ledger", func(st *roost.State) (*ledger, error) {
		return &ledger{st: st, wf: workflow.NewHost(e, st), tally: tally}, nil
	})
}

// Fetch serves POST and GET /tally/{id}.
func (l *ledger) Fetch(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, ok := strings.CutPrefix(r.URL.Path, "/tally/")
	if !ok || id == "" {
		roost.WriteError(w, roost.NewError("not_found", "no route "+r.URL.Path))
		return nil
	}
	st := l.st.Storage()
	if _, err := st.Exec(ctx, `CREATE TABLE IF NOT EXISTS tally (id TEXT PRIMARY KEY, steps INTEGER NOT NULL, last TEXT NOT NULL)`); err != nil {
		return err
	}
	if r.Method == http.MethodPost {
		res, err := st.Exec(ctx, `INSERT INTO tally (id, steps, last) VALUES (?, 0, '') ON CONFLICT (id) DO NOTHING`, id)
		if err != nil {
			return err
		}
		code := http.StatusOK
		if res.RowsAffected == 1 {
			if _, err := workflow.Start(ctx, l.wf, l.tally, id, id); err != nil {
				return err
			}
			code = http.StatusCreated
		}
		w.WriteHeader(code)
		return nil
	}
	var t Tally
	if err := st.QueryRow(ctx, `SELECT steps, last FROM tally WHERE id = ?`, id).Scan(&t.Steps, &t.Last); err != nil {
		return err
	}
	s, err := l.wf.Status(ctx, "tally", id)
	if err != nil {
		return err
	}
	t.Status = s.Status
	for _, step := range s.Steps {
		var tok string
		if step.State == "done" && json.Unmarshal(step.Result, &tok) == nil {
			t.Results = append(t.Results, tok)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(t)
}
