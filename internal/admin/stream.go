package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/gateway"
)

// An SQL answer is written as the statement produces its rows, from the
// object's turn, so that no result is ever held whole (issue 12: 40 rows of
// zeroblob(2000000) once made a 480 MB answer and took the server to 3.1 GB).
// Its first holdBytes are held back: a statement that fails before that
// (most failures come before the first row) still gets an error status. A
// failure after the status went out ends the JSON with an "error" member,
// which the Client turns into its error. A write's answer is held whole
// (within MaxResultBytes) until it committed: its status says whether it did.

// holdBytes is how much of a read's answer waits before its status is sent.
const holdBytes = 64 << 10

// errAnswerDone refuses writes once the handler finished the answer: the
// object's turn may outlive a caller that went away.
var errAnswerDone = &errcode.Error{Code: errcode.Canceled, Message: "the SQL answer was finished before the statement ended: the caller went away"}

// sqlAnswer is the [RowWriter] of the HTTP API: it streams the JSON answer
// to the client. Its methods are safe to call from the object's turn while
// the handler waits, and finish ends its use.
type sqlAnswer struct {
	budget
	mu    sync.Mutex // guards the fields below and writes to w
	w     http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration // bound of each write; 0: none
	hold  int           // bytes held before the status goes out; -1: all
	held  []byte
	sent  bool // the status went out
	done  bool
}

func newSQLAnswer(w http.ResponseWriter, b budget, write bool, stall time.Duration) *sqlAnswer {
	a := &sqlAnswer{budget: b, w: w, rc: http.NewResponseController(w), stall: stall, hold: holdBytes}
	if write {
		a.hold = -1
	}
	return a
}

// Columns writes the opening of the answer.
func (a *sqlAnswer) Columns(cols []string) error {
	b, err := json.Marshal(cols)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return errAnswerDone
	}
	return a.writeLocked(append(append([]byte(`{"columns":`), b...), `,"rows":[`...))
}

// Row writes one row if it fits the budget.
func (a *sqlAnswer) Row(vals []any) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return false, errAnswerDone
	}
	if ok, err := a.admit(vals); !ok {
		return false, err
	}
	return true, a.writeLocked(a.buf)
}

// finish ends the answer after the query returned n and err. It returns
// err if the answer should be an error status instead: nothing of it went
// out. Later writes from the object's turn are refused.
func (a *sqlAnswer) finish(n int64, err error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.done = true
	defer a.resetDeadline()
	if err != nil && !a.sent {
		return err
	}
	tail := []byte{']'}
	if err != nil {
		tail = append(append(append(tail, `,"error":`...), gateway.ErrorObject(err)...), "}\n"...)
		a.writeLocked(tail)
		return nil
	}
	if a.truncatedBy != "" {
		tail = append(append(append(tail, `,"truncated":true,"truncated_by":"`...), a.truncatedBy...), '"')
	}
	tail = strconv.AppendInt(append(tail, `,"rows_affected":`...), n, 10)
	a.writeLocked(append(tail, "}\n"...))
	a.sendLocked() // the client may be gone; nothing to do about it
	return nil
}

// writeLocked holds p while the answer may still become an error, and
// writes it to the client once it may not.
func (a *sqlAnswer) writeLocked(p []byte) error {
	if a.done && a.sent {
		return a.writeOut(p)
	}
	if !a.sent && (a.hold < 0 || len(a.held)+len(p) <= a.hold || a.done) {
		a.held = append(a.held, p...)
		return nil
	}
	if err := a.sendLocked(); err != nil {
		return err
	}
	return a.writeOut(p)
}

// sendLocked sends the status and what was held.
func (a *sqlAnswer) sendLocked() error {
	if !a.sent {
		a.sent = true
		h := a.w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Content-Type-Options", "nosniff")
		a.w.WriteHeader(http.StatusOK)
	}
	held := a.held
	a.held = nil
	return a.writeOut(held)
}

// writeOut writes p to the client within the stall bound: a client that
// stops reading must not hold the object's turn.
func (a *sqlAnswer) writeOut(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if a.stall > 0 {
		a.rc.SetWriteDeadline(time.Now().Add(a.stall)) // ErrNotSupported: no bound to set
	}
	if _, err := a.w.Write(p); err != nil {
		return &errcode.Error{Code: errcode.Canceled, Err: err,
			Message: fmt.Sprintf("the SQL answer could not be sent (a client that stops reading has %s per write): %v", a.stall, err)}
	}
	return nil
}

func (a *sqlAnswer) resetDeadline() {
	if a.stall > 0 && a.sent {
		a.rc.SetWriteDeadline(time.Time{})
	}
}
