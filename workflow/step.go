package workflow

import (
	"context"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/errcode"
)

// step runs a step: see [Step]. A standalone instance's step runs outside
// any event of its partition (attemptOut), so that a slow step holds up no
// other instance; a hosted one's runs in its host's event (attemptIn), so
// that its writes to the host's tables commit with its record.
func (r *run) step(name string, cfg stepConfig, fn func(StepContext) ([]byte, error)) ([]byte, error) {
	seq, rec := r.next(name, kindStep)
	if rec != nil && rec.State == recDone {
		if rec.Error != nil {
			return nil, rec.Error.err()
		}
		return rec.Result, nil
	}
	a := stepAttempt{seq: seq, name: name, cfg: cfg, fn: fn, started: r.e.clock.Now()}
	if rec != nil { // retrying
		if r.e.clock.Now().Before(rec.Until) {
			r.rearm("", rec.Until)
			r.suspend("retry not due")
		}
		a.started, a.n = rec.Started, rec.Attempts
	}
	for {
		a.n++
		var got *record
		if r.home.hosted {
			got = r.attemptIn(&a)
		} else {
			got = r.attemptOut(&a)
		}
		switch {
		case got.State == recDone && got.Error != nil:
			r.e.metrics.attempts.WithLabelValues(r.def.name, "failed").Inc()
			return nil, got.Error.err()
		case got.State == recDone:
			r.e.metrics.attempts.WithLabelValues(r.def.name, "ok").Inc()
			return got.Result, nil
		}
		r.e.metrics.attempts.WithLabelValues(r.def.name, "retry").Inc()
		r.log.Debug("workflow: step attempt failed", "step", name, "attempt", a.n, "retry_at", got.Until, "err", got.Error.Message)
		r.suspend("retry")
	}
}

// stepAttempt is an attempt of a step: its place in the journal, its
// function and its number (from 1).
type stepAttempt struct {
	seq     int
	name    string
	cfg     stepConfig
	fn      func(StepContext) ([]byte, error)
	started time.Time
	n       int
}

// record returns the record of the attempt's outcome (out or err) at now.
func (a *stepAttempt) record(now time.Time, out []byte, err error) *record {
	got := &record{Seq: a.seq, Name: a.name, Kind: kindStep, Attempts: a.n, Started: a.started, Ended: now}
	switch {
	case err == nil:
		got.State, got.Result = recDone, out
	case IsNonRetryable(err) || a.n > a.cfg.retry.Limit:
		got.State, got.Error = recDone, errorInfo(err)
	default:
		got.State, got.Error, got.Until = recRetrying, errorInfo(err), now.Add(a.cfg.delay(a.n))
	}
	return got
}

// outcome returns the record of the attempt's outcome, in an event of the
// instance at p, with the wake of its retry if it has one left.
func (a *stepAttempt) outcome(ctx context.Context, p place, now time.Time, out []byte, err error) (*record, error) {
	got := a.record(now, out, err)
	if got.State == recRetrying {
		if err := p.setWake(ctx, got.Until); err != nil {
			return nil, err
		}
	}
	return got, nil
}

// attemptOut runs an attempt of a standalone instance's step: its function
// runs first, with the instance's own state buffered (see bufferedKV), then
// its outcome and its writes commit in a short event of the partition. It
// returns the committed record: the function sees a step's result once it
// is durable.
func (r *run) attemptOut(a *stepAttempt) *record {
	kv := &bufferedKV{r: r}
	out, err := call(r.ctx, stepContext{kv: kv, name: a.name, attempt: a.n}, a.cfg.timeout, a.fn)
	var got *record
	evErr := r.commit(func(ctx context.Context, p place, m *meta) ([]*record, error) {
		err := err
		if err == nil && !kv.empty() {
			// A write over a storage limit fails the attempt for good, with
			// none of its writes; the record still commits.
			if cerr := p.st.Transaction(ctx, func(ctx context.Context) error { return kv.commit(ctx, p) }); cerr != nil {
				if errcode.Of(cerr) != errcode.LimitExceeded {
					return nil, cerr
				}
				err = NonRetryable(cerr)
			}
		}
		got, err = a.outcome(ctx, p, r.e.clock.Now(), out, err)
		return []*record{got}, err
	})
	if evErr != nil {
		r.abort(evErr)
	}
	return got
}

// attemptIn runs an attempt of a hosted instance's step in an event of its
// host, in a nested transaction, so that its writes to the host's storage
// commit with its record. It returns the committed record.
func (r *run) attemptIn(a *stepAttempt) *record {
	var got *record
	err := r.event(func(ctx context.Context, p place, m *meta) ([]*record, error) {
		var out []byte
		err := p.st.Transaction(ctx, func(ctx context.Context) (err error) {
			out, err = call(ctx, stepContext{kv: prefixKV{st: p.st, prefix: p.h.prefix + kvPrefix}, host: p.st, name: a.name, attempt: a.n}, a.cfg.timeout, a.fn)
			return err
		})
		got, err = a.outcome(ctx, p, r.e.clock.Now(), out, err)
		return []*record{got}, err
	})
	if err != nil {
		r.abort(err)
	}
	return got
}

// call runs one attempt of a step's fn with its timeout; a panic is the
// attempt's error.
func call(ctx context.Context, sc stepContext, timeout time.Duration, fn func(StepContext) ([]byte, error)) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = errcode.New(errcode.HandlerPanic, "step %q panicked: %v", sc.name, p)
		}
	}()
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sc.Context = sctx
	out, err = fn(sc)
	switch {
	case err == nil && sctx.Err() != nil:
		err = errcode.New(errcode.Timeout, "step %q: attempt %d took longer than its timeout of %s", sc.name, sc.attempt, timeout)
	case err == nil && len(out) > MaxResultBytes:
		err = NonRetryable(errcode.New(errcode.LimitExceeded, "step %q: result of %d bytes, at most %d", sc.name, len(out), MaxResultBytes))
	}
	return out, err
}

// KV is an instance's own state, which its steps read and write
// ([StepContext.Storage]): keys and values of its own, apart from every
// other instance's and from the engine's records. A step's writes commit
// with its recorded result, in one transaction; a failed attempt's are
// dropped. It has the KV methods of [roost.Storage], with its limits.
type KV interface {
	// Get returns the value of key, and false if there is none.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Put stores value under key.
	Put(ctx context.Context, key string, value []byte) error
	// Delete removes key and reports whether it existed.
	Delete(ctx context.Context, key string) (bool, error)
	// List returns the entries opts selects (see [roost.ListOptions]).
	List(ctx context.Context, opts *roost.ListOptions) ([]roost.Entry, error)
}

// prefixKV is the KV of an instance under prefix in st, in the instance's
// event: a hosted instance's own state in its host's storage.
type prefixKV struct {
	st     *roost.Storage
	prefix string
}

func (kv prefixKV) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return kv.st.Get(ctx, kv.prefix+key)
}

func (kv prefixKV) Put(ctx context.Context, key string, value []byte) error {
	return kv.st.Put(ctx, kv.prefix+key, value)
}

func (kv prefixKV) Delete(ctx context.Context, key string) (bool, error) {
	return kv.st.Delete(ctx, kv.prefix+key)
}

func (kv prefixKV) List(ctx context.Context, opts *roost.ListOptions) ([]roost.Entry, error) {
	o := prefixed(kv.prefix, opts)
	entries, err := kv.st.List(ctx, &o)
	for i := range entries {
		entries[i].Key = entries[i].Key[len(kv.prefix):]
	}
	return entries, err
}

// prefixed returns opts for the keys under prefix.
func prefixed(prefix string, opts *roost.ListOptions) roost.ListOptions {
	var o roost.ListOptions
	if opts != nil {
		o = *opts
	}
	o.Prefix = prefix + o.Prefix
	if o.Start != "" {
		o.Start = prefix + o.Start
	}
	if o.End != "" {
		o.End = prefix + o.End
	}
	return o
}
