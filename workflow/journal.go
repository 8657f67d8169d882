package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/errcode"
)

// An instance's storage, in its home's KV store under its prefix (see
// home: "workflow/" for a standalone instance, "workflow/<name>/<id>/" for
// a hosted one; keys under "workflow/" are the engine's, steps may use any
// other key, and SQL):
//
//	<prefix>meta           the instance: status, output, error, run
//	<prefix>params         its params, written once (the meta changes at every step)
//	<prefix>step/<seq>     the journal: one record per primitive, in order
//	<prefix>event/<seq>    events sent to the instance, in arrival order
const (
	metaKey     = "meta"
	paramsKey   = "params"
	stepPrefix  = "step/"
	eventPrefix = "event/"
)

// seqKey makes keys that sort in sequence order.
func seqKey(prefix string, seq int) string { return fmt.Sprintf("%s%08d", prefix, seq) }

// The statuses of an instance.
const (
	StatusQueued     = "queued"     // created, not started yet
	StatusRunning    = "running"    // its function runs, or waits for a step's retry
	StatusSleeping   = "sleeping"   // in Sleep or SleepUntil
	StatusWaiting    = "waiting"    // in WaitForEvent
	StatusPaused     = "paused"     // paused; Resume continues it
	StatusComplete   = "complete"   // its function returned its output
	StatusErrored    = "errored"    // its function returned an error (or failed)
	StatusTerminated = "terminated" // terminated; it never runs again
)

// finished reports whether status is final.
func finished(status string) bool {
	return status == StatusComplete || status == StatusErrored || status == StatusTerminated
}

// meta is an instance's record.
type meta struct {
	Workflow string `json:"workflow"`
	ID       string `json:"id"`
	// Params are stored under their own key (see journal.params); a meta
	// read from storage has none until they are read.
	Params json.RawMessage `json:"-"`
	Status string          `json:"status"`
	Output json.RawMessage `json:"output,omitempty"`
	Error  *ErrorInfo      `json:"error,omitempty"`
	// Run counts the instance's restarts: a journal record of an older run
	// is refused.
	Run      int       `json:"run"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Finished time.Time `json:"finished,omitzero"`
	// Events is the number of events received (the next event's seq).
	Events int `json:"events"`
	// Runner, in cluster mode, names the run that executes the instance
	// (see run.token): a run's events are refused once another took over.
	Runner string `json:"runner,omitempty"`
}

// ErrorInfo is an error as an instance records it.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *ErrorInfo) err() error { return roost.NewError(e.Code, e.Message) }

// errorInfo records err with its code: its own, or handler_error for an
// error of the workflow's code that has none.
func errorInfo(err error) *ErrorInfo {
	code := string(errcode.HandlerError)
	if errcode.Coded(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		code = roost.ErrorCode(err)
	}
	return &ErrorInfo{Code: code, Message: err.Error()}
}

// Kinds of journal records.
const (
	kindStep  = "step"
	kindSleep = "sleep"
	kindEvent = "event"
)

// States of a journal record.
const (
	recDone     = "done"     // completed: Result (or Error, for a failed step or a timed-out wait)
	recRetrying = "retrying" // a step attempt failed; the next one is due at Until
	recSleeping = "sleeping" // a sleep until Until
	recWaiting  = "waiting"  // a wait for an event of type Type until Until
)

// record is one entry of the journal.
type record struct {
	Seq      int             `json:"seq"`
	Name     string          `json:"name"`
	Kind     string          `json:"kind"`
	State    string          `json:"state"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    *ErrorInfo      `json:"error,omitempty"`
	Attempts int             `json:"attempts,omitempty"`
	// Type is the event type a wait takes.
	Type    string    `json:"type,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	// Until is when a sleep ends, a wait times out, or a retry is due.
	Until time.Time `json:"until,omitzero"`
}

// event is an event sent to an instance.
type event struct {
	Seq      int             `json:"seq"`
	Type     string          `json:"type"`
	Payload  json.RawMessage `json:"payload"`
	Received time.Time       `json:"received"`
	// TakenBy is the journal seq of the wait that took it; -1 while none.
	TakenBy int `json:"taken_by"`
}

// journal reads and writes an instance's storage, inside one of its home's
// events: its keys are under prefix.
type journal struct {
	st     *roost.Storage
	prefix string
	// metas, if not nil, caches the record of the instance id while it
	// runs (see partition).
	metas metaCache
	id    string
}

func (j journal) meta(ctx context.Context) (*meta, bool, error) {
	if m := j.metas[j.id]; m != nil {
		c := *m // its fields are replaced, never changed in place
		return &c, true, nil
	}
	m, ok, err := roost.GetJSON[*meta](ctx, j.st, j.prefix+metaKey)
	if err != nil {
		return nil, false, fmt.Errorf("workflow: read the instance: %w", err)
	}
	return m, ok, nil
}

func (j journal) putMeta(ctx context.Context, m *meta) error {
	if err := roost.PutJSON(ctx, j.st, j.prefix+metaKey, m); err != nil {
		return err
	}
	if j.metas != nil {
		if m.Status == StatusRunning || m.Status == StatusQueued {
			c := *m
			c.Params = nil // stored apart, read apart
			j.metas[j.id] = &c
		} else {
			delete(j.metas, j.id)
		}
	}
	return nil
}

// putParams stores the instance's params (once, at its creation).
func (j journal) putParams(ctx context.Context, params []byte) error {
	return j.st.Put(ctx, j.prefix+paramsKey, params)
}

// params reads the instance's params into m.
func (j journal) params(ctx context.Context, m *meta) error {
	b, _, err := j.st.Get(ctx, j.prefix+paramsKey)
	if err != nil {
		return fmt.Errorf("workflow: read the params: %w", err)
	}
	m.Params = b
	return nil
}

func (j journal) records(ctx context.Context) ([]*record, error) {
	entries, err := j.st.List(ctx, &roost.ListOptions{Prefix: j.prefix + stepPrefix})
	if err != nil {
		return nil, fmt.Errorf("workflow: read the journal: %w", err)
	}
	recs := make([]*record, 0, len(entries))
	for _, e := range entries {
		r := new(record)
		if err := json.Unmarshal(e.Value, r); err != nil {
			return nil, fmt.Errorf("workflow: journal record %s: %w", e.Key, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

func (j journal) putRecord(ctx context.Context, r *record) error {
	return roost.PutJSON(ctx, j.st, seqKey(j.prefix+stepPrefix, r.Seq), r)
}

func (j journal) events(ctx context.Context) ([]*event, error) {
	entries, err := j.st.List(ctx, &roost.ListOptions{Prefix: j.prefix + eventPrefix})
	if err != nil {
		return nil, fmt.Errorf("workflow: read the events: %w", err)
	}
	evs := make([]*event, 0, len(entries))
	for _, e := range entries {
		ev := new(event)
		if err := json.Unmarshal(e.Value, ev); err != nil {
			return nil, fmt.Errorf("workflow: event %s: %w", e.Key, err)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

func (j journal) putEvent(ctx context.Context, ev *event) error {
	return roost.PutJSON(ctx, j.st, seqKey(j.prefix+eventPrefix, ev.Seq), ev)
}

// clear removes the journal and the events (a restart).
func (j journal) clear(ctx context.Context) error {
	for _, prefix := range []string{stepPrefix, eventPrefix} {
		entries, err := j.st.List(ctx, &roost.ListOptions{Prefix: j.prefix + prefix})
		if err != nil {
			return err
		}
		keys := make([]string, len(entries))
		for i, e := range entries {
			keys[i] = e.Key
		}
		if _, err := j.st.DeleteMany(ctx, keys); err != nil {
			return err
		}
	}
	return nil
}
