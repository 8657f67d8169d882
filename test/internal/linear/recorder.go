package linear

import (
	"math"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Recorder collects the operations of concurrent clients. It is safe for
// concurrent use.
type Recorder struct {
	start time.Time // times are nanoseconds since start, on the monotonic clock

	mu      sync.Mutex // guards the fields below
	ops     []porcupine.Operation
	pending int // operations recorded with an unknown outcome
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// Op is one operation in flight: call exactly one of Return, Unknown or
// Discard, once.
type Op struct {
	r      *Recorder
	client int
	input  any
	call   int64
}

// Call notes the start of an operation by client (a small number, one per
// concurrent client: the visualization draws one row per client). Call it
// just before the request is sent.
func (r *Recorder) Call(client int, input any) *Op {
	return &Op{r: r, client: client, input: input, call: r.now()}
}

// Return records the operation as completed with output (a RegisterOutput
// or CounterOutput). Call it as soon as the answer is read.
func (o *Op) Return(output any) {
	o.r.add(porcupine.Operation{ClientId: o.client, Input: o.input, Call: o.call, Output: output, Return: o.r.now()})
}

// Unknown records the operation as one whose outcome is unknown: it may
// have taken effect at any time after its call, or never. A read-only one
// is dropped, as it constrains nothing.
func (o *Op) Unknown() {
	if ro, ok := o.input.(interface{ ReadOnly() bool }); ok && ro.ReadOnly() {
		return
	}
	o.r.mu.Lock()
	o.r.pending++
	o.r.mu.Unlock()
	o.r.add(porcupine.Operation{ClientId: o.client, Input: o.input, Call: o.call, Return: math.MaxInt64})
}

// Discard records nothing: call it only when the operation certainly did
// not take effect (the server guarantees it for that answer, e.g. a request
// refused before it reached the object). When in doubt, call Unknown.
func (o *Op) Discard() {}

// Operations returns a copy of the operations recorded so far.
func (r *Recorder) Operations() []porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]porcupine.Operation(nil), r.ops...)
}

// Pending returns how many operations were recorded with an unknown outcome.
func (r *Recorder) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pending
}

func (r *Recorder) now() int64 { return int64(time.Since(r.start)) }

func (r *Recorder) add(op porcupine.Operation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
}
