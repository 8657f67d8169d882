package workflow

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/errcode"
)

// In cluster mode, an instance's partition and a workflow's index object
// each live on one owner node. An operation tries roost.Do first: on the
// owner, and always on a single node, it runs here as it always did. On
// another node Do fails with not_owner before anything ran, and the
// operation crosses to the owner as an RPC call of the partition's class,
// which the cluster forwards; the method runs the same code in the
// partition's event there. So a run starts on the partition's owner only,
// the node that fires its timers.

// opMethod is the partition class's RPC method: an operation of
// [Instance] on the owner of the instance's partition.
var opMethod = roost.NewMethod("workflow.op", (*partition).serveOp)

// The operations of opRequest.Op.
const (
	opCreate    = "create"
	opStatus    = "status"
	opEvent     = "event"
	opPause     = "pause"
	opResume    = "resume"
	opTerminate = "terminate"
	opRestart   = "restart"
	opPurge     = "purge"
)

// opRequest is an operation on an instance, as it crosses to its owner.
type opRequest struct {
	Op        string          `json:"op"`
	ID        string          `json:"id"`
	Params    json.RawMessage `json:"params,omitempty"`     // create
	EventType string          `json:"event_type,omitempty"` // event
	Payload   json.RawMessage `json:"payload,omitempty"`    // event
	Before    time.Time       `json:"before,omitzero"`      // purge
}

// opReply is its answer.
type opReply struct {
	Created bool    `json:"created,omitempty"` // create
	Status  *Status `json:"status,omitempty"`  // status
	Gone    bool    `json:"gone,omitempty"`    // purge
}

// serveOp runs an operation that another node sent: in the partition's
// event, and its effects on the engine (a run started, stopped) before the
// event commits. A run's first event waits for this one's commit, and sees
// nothing to run if it failed.
func (o *partition) serveOp(ctx context.Context, req opRequest) (opReply, error) {
	reply, after, err := o.apply(ctx, req)
	if err == nil && after != nil {
		after()
	}
	return reply, err
}

// apply runs req in o's event: it returns the answer and what to do once
// the event succeeded.
func (o *partition) apply(ctx context.Context, req opRequest) (opReply, func(), error) {
	d := o.def
	p, err := o.place(req.ID)
	if err != nil {
		return opReply{}, nil, err
	}
	switch req.Op {
	case opCreate:
		m, err := d.createIn(ctx, p, req.ID, req.Params)
		if err != nil || m == nil {
			return opReply{}, nil, err
		}
		return opReply{Created: true}, func() { d.created(p.h, m) }, nil
	case opPurge:
		gone, err := o.purge(ctx, p, req.Before)
		return opReply{Gone: gone}, nil, err
	}
	return (&Instance{def: d, id: req.ID}).applyIn(ctx, p, req)
}

// applyIn runs the operation req (not a create or a purge) on the instance
// in an event of its home, p: it returns the answer and what to do once the
// event succeeded.
func (i *Instance) applyIn(ctx context.Context, p place, req opRequest) (opReply, func(), error) {
	body, after, err := i.op(req)
	if err != nil {
		return opReply{}, nil, err
	}
	var reply opReply
	changed, err := i.update(ctx, p, func(ctx context.Context, p place, j journal, m *meta) (bool, error) {
		if req.Op == opStatus {
			st, err := i.read(ctx, j, m)
			reply.Status = st
			return false, err
		}
		return body(ctx, p, j, m)
	})
	if err != nil {
		return opReply{}, nil, err
	}
	return reply, func() {
		if changed != nil {
			i.def.e.changedAt(i.home().key, changed)
			i.def.e.reportAt(i.def, i.home(), changed)
		}
		if after != nil {
			after()
		}
	}, nil
}

// apply runs req on the instance: here if this node owns it (or runs
// alone), else on its owner. remote reports the latter.
func (i *Instance) apply(ctx context.Context, req opRequest) (reply opReply, remote bool, err error) {
	if err := checkID(i.id); err != nil {
		return opReply{}, false, err
	}
	req.ID = i.id
	if err := i.def.e.migrate(ctx, i.def, i.id); err != nil {
		return opReply{}, false, err
	}
	stub := i.home().stub
	var after func()
	err = roost.Do(ctx, stub, func(ctx context.Context, o *partition) (err error) {
		reply, after, err = o.apply(ctx, req)
		return err
	})
	if notOwner(err) {
		reply, err = opMethod.Call(ctx, stub, req)
		return reply, true, err
	}
	if err == nil && after != nil {
		after()
	}
	return reply, false, err
}

// notOwner reports whether err is roost.Do's refusal on a node that does
// not own the object: nothing ran.
func notOwner(err error) bool { return err != nil && errcode.Of(err) == errcode.NotOwner }

// defaultBeat is the default of [Options.Beat]: in cluster mode, the timer
// of an instance that runs (or waits for a slot) is set this far ahead,
// and set again whenever it fires while the instance still runs. If its
// owner dies, the node that takes the instance's shard over fires the
// timer, which resumes the instance there: within a failover plus the
// beat.
const defaultBeat = 5 * time.Second

// runningAlarm sets the wake of an instance that runs from now on, in
// its home's event: the beat (see arm), or none (a restart of the node
// resumes its instances, see resume).
func (e *Engine) runningAlarm(ctx context.Context, p place) error {
	if !e.clustered && !p.h.hosted {
		return p.clearWake(ctx)
	}
	return e.arm(ctx, p)
}

// pollFirst and pollMax bound the pauses of a [Instance.Wait] for an
// instance that another node owns: the end of its run is not heard here,
// so the wait asks for its status again, less often the longer it waits.
const (
	pollFirst = 50 * time.Millisecond
	pollMax   = time.Second
)

// runnerToken returns a new name for a run (see run.token), or "" on a
// single node, where one process runs every instance and the engine's live
// runs keep one run per instance.
func (e *Engine) runnerToken() string {
	if !e.clustered {
		return ""
	}
	return strconv.FormatUint(rand.Uint64(), 36)
}
