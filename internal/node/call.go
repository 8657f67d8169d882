package node

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/store"
)

// Ref names the object an event goes to: its class and ID, and the name it
// was addressed by ("" for an ID), which the inventory records.
type Ref struct {
	Class string
	ID    ids.ID
	Name  string
}

// Do runs fn as an event of the object, with the live instance
// (constructed first if it is out of memory), and returns once its writes
// are durable; if fn fails, they roll back and the instance is reset.
//
// If ctx ends first, Do returns its error; fn then either never runs or
// has returned by the time Do does (its writes may still commit), so what
// fn wrote to the caller's variables may be read once Do returned.
func (n *Node) Do(ctx context.Context, ref Ref, fn func(ctx context.Context, inst any) error) error {
	// mu is held while fn runs: once Do marked the call abandoned under it,
	// fn has returned or will never run.
	if remote, err := n.remote(ctx, ref); remote || err != nil {
		if err == nil {
			err = errcode.New(errcode.NotOwner, "%s/%s is owned by another node: Do runs Go code in the instance, so it works only on the object's owner; use a Stub's RPC methods or Fetch", ref.Class, ref.ID)
		}
		return err
	}
	var mu sync.Mutex
	abandoned := false
	err := n.rt.Deliver(ctx, &runtime.Event{Class: ref.Class, ID: ref.ID, Name: ref.Name, Kind: runtime.KindCall,
		Fn: func(ctx context.Context, inst any, _ *store.DB) error {
			mu.Lock()
			defer mu.Unlock()
			if abandoned {
				return nil
			}
			return fn(ctx, inst)
		}})
	if err != nil && ctx.Err() != nil {
		mu.Lock()
		abandoned = true
		mu.Unlock()
	}
	return err
}

// Call calls the RPC method named method on the object, in the form it has
// on the wire: a JSON request in, the JSON response out once the event's
// writes are durable, or an error with its code. It records a client span
// and the call's metrics.
func (n *Node) Call(ctx context.Context, ref Ref, method string, payload []byte) ([]byte, error) {
	ctx, span := n.tracer.Start(ctx, "roost.rpc "+method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("roost.class", ref.Class), attribute.String("roost.method", method)))
	start := time.Now()
	reply, err := n.call(ctx, ref, method, payload)
	endSpan(span, err)
	status := "ok"
	if err != nil {
		status = string(errcode.Of(err))
	}
	n.metrics.RPC(ref.Class, method, status, time.Since(start))
	return reply, err
}

func (n *Node) call(ctx context.Context, ref Ref, method string, payload []byte) ([]byte, error) {
	c, ok := n.class(ref.Class)
	if !ok {
		return nil, n.knownClass(ref.Class)
	}
	if c.Call == nil {
		return nil, errcode.New(errcode.UnknownMethod, "class %s has no RPC method %q (register it in ClassOptions.Methods)", ref.Class, method)
	}
	if remote, err := n.remote(ctx, ref); remote || err != nil {
		if err != nil {
			return nil, err
		}
		return n.cluster.Call(ctx, ref.Class, ref.ID, ref.Name, method, payload)
	}
	epoch := n.epoch(ref)
	var reply []byte // set by the event, read only after it committed
	err := n.rt.Deliver(ctx, &runtime.Event{Class: ref.Class, ID: ref.ID, Name: ref.Name, Kind: runtime.KindRPC,
		Fn: func(ctx context.Context, inst any, _ *store.DB) error {
			var err error
			reply, err = c.Call(ctx, inst, method, payload)
			return err
		}})
	if err == nil {
		err = n.stillOwner(ref, epoch)
	}
	if err != nil {
		return nil, err
	}
	return reply, nil
}

// endSpan records err, if any, on span and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(attribute.String("roost.error_code", string(errcode.Of(err))))
	}
	span.End()
}
