package roost

import (
	"context"
	"fmt"

	"github.com/roost-dev/roost/internal/errcode"
)

// Do runs fn as an event of the stub's object, in this process: fn gets the
// live object (constructed first if it is out of memory) and takes turns
// with the object's other events, and its storage writes commit together.
// Do returns once they are durable. If fn fails, its writes roll back, the
// instance is reset, and Do returns fn's error as it is.
//
// If ctx ends first, Do returns its error; fn then either never runs, or
// has returned by the time Do does (its writes may still commit). So what
// fn wrote to the caller's variables may be read once Do returned.
//
// Do is for Go code that runs beside its objects, such as the workflow
// engine and tests. A call that may one day cross machines is an RPC method
// ([NewMethod]).
func Do[T any](ctx context.Context, s *Stub, fn func(ctx context.Context, obj T) error) error {
	return s.ns.app.n.Do(ctx, s.ref(), func(ctx context.Context, inst any) error {
		obj, ok := inst.(T)
		if !ok {
			return errcode.New(errcode.Internal, "roost.Do: the object of class %s is a %T, not a %s", s.ns.class, inst, typeName[T]())
		}
		return fn(ctx, obj)
	})
}

func typeName[T any]() string {
	var zero T
	return fmt.Sprintf("%T", &zero)[1:]
}
