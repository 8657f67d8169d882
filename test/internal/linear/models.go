// Package linear checks histories of concurrent clients for
// linearizability with porcupine (github.com/anishathalye/porcupine), for
// the cluster tests of issue 13: a register per object (put a value, get
// it) and a counter per object (increment returns the new value, read
// returns the value).
//
// A Recorder collects operations from concurrent clients. An operation
// whose outcome is unknown (a timeout, a connection error: it may or may not
// have taken effect) is recorded with a nil output and an infinite return
// time, so that porcupine may place it anywhere after its call, including
// never; one that only reads is dropped instead, as it constrains nothing.
// Check then runs porcupine with a time bound and fails the test on a
// violation, leaving a visualization file behind.
package linear

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// RegisterInput is an operation on the register of one object: a put of
// Value when Put is true, else a get.
type RegisterInput struct {
	Key   string
	Put   bool
	Value string
}

// RegisterOutput is what a get returned (a put's output carries nothing).
// A nil output instead means the outcome is unknown.
type RegisterOutput struct {
	Value string
}

// ReadOnly reports whether the operation is a get.
func (in RegisterInput) ReadOnly() bool { return !in.Put }

func (in RegisterInput) key() string { return in.Key }

// CounterInput is an operation on the counter of one object: an increment
// when Increment is true, else a read.
type CounterInput struct {
	Key       string
	Increment bool
}

// CounterOutput is the counter's value that an increment (the new value)
// or a read returned. A nil output means the outcome is unknown.
type CounterOutput struct {
	Value int64
}

// ReadOnly reports whether the operation is a read.
func (in CounterInput) ReadOnly() bool { return !in.Increment }

func (in CounterInput) key() string { return in.Key }

// Register is the model of one string register per key, initially "".
var Register = porcupine.Model{
	Partition:         byKey,
	Init:              func() any { return "" },
	Step:              registerStep,
	DescribeOperation: describeRegister,
}

// Counter is the model of one counter per key, initially 0.
var Counter = porcupine.Model{
	Partition:         byKey,
	Init:              func() any { return int64(0) },
	Step:              counterStep,
	DescribeOperation: describeCounter,
}

func registerStep(state, input, output any) (bool, any) {
	in, st := input.(RegisterInput), state.(string)
	out, known := output.(RegisterOutput)
	switch {
	case in.Put:
		return true, in.Value
	case !known:
		return true, st
	default:
		return out.Value == st, st
	}
}

func counterStep(state, input, output any) (bool, any) {
	in, st := input.(CounterInput), state.(int64)
	out, known := output.(CounterOutput)
	if in.Increment {
		st++
	}
	return !known || out.Value == st, st
}

func describeRegister(input, output any) string {
	in := input.(RegisterInput)
	out, known := output.(RegisterOutput)
	switch {
	case in.Put && known:
		return fmt.Sprintf("put(%s, %q)", in.Key, in.Value)
	case in.Put:
		return fmt.Sprintf("put(%s, %q) → ?", in.Key, in.Value)
	case known:
		return fmt.Sprintf("get(%s) → %q", in.Key, out.Value)
	}
	return fmt.Sprintf("get(%s) → ?", in.Key)
}

func describeCounter(input, output any) string {
	in := input.(CounterInput)
	op := "read"
	if in.Increment {
		op = "inc"
	}
	if out, known := output.(CounterOutput); known {
		return fmt.Sprintf("%s(%s) → %d", op, in.Key, out.Value)
	}
	return fmt.Sprintf("%s(%s) → ?", op, in.Key)
}

// keyed is an input that belongs to one object's history.
type keyed interface{ key() string }

// byKey partitions a history by object: each object's operations are
// checked as a history of their own, which porcupine does far faster.
func byKey(ops []porcupine.Operation) [][]porcupine.Operation {
	index := make(map[string]int)
	var parts [][]porcupine.Operation
	for _, op := range ops {
		k := op.Input.(keyed).key()
		i, ok := index[k]
		if !ok {
			i = len(parts)
			index[k] = i
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], op)
	}
	return parts
}
