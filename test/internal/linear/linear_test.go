package linear_test

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/anishathalye/porcupine"
	"go.uber.org/goleak"

	"github.com/roost-dev/roost/test/internal/linear"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// op builds an operation with explicit times; ret < 0 means unknown outcome.
func op(client int, in, out any, call, ret int64) porcupine.Operation {
	if ret < 0 {
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Return: math.MaxInt64}
	}
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

func put(k, v string) linear.RegisterInput { return linear.RegisterInput{Key: k, Put: true, Value: v} }
func get(k string) linear.RegisterInput    { return linear.RegisterInput{Key: k} }
func val(v string) linear.RegisterOutput   { return linear.RegisterOutput{Value: v} }
func inc(k string) linear.CounterInput     { return linear.CounterInput{Key: k, Increment: true} }
func read(k string) linear.CounterInput    { return linear.CounterInput{Key: k} }
func n(v int64) linear.CounterOutput       { return linear.CounterOutput{Value: v} }

// probe stands in for the test to observe Check's verdict.
type probe struct {
	testing.TB
	errors []string
}

func (p *probe) Errorf(format string, args ...any) {
	p.errors = append(p.errors, fmt.Sprintf(format, args...))
}

func TestRegister(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		ops   []porcupine.Operation
		legal bool
	}{
		{"concurrent put and get may see either value", []porcupine.Operation{
			op(0, put("x", "1"), val(""), 0, 10),
			op(1, put("x", "2"), val(""), 5, 30),
			op(2, get("x"), val("1"), 12, 20),
			op(2, get("x"), val("2"), 31, 40),
		}, true},
		{"stale read after an acknowledged put", []porcupine.Operation{
			op(0, put("x", "1"), val(""), 0, 10),
			op(1, get("x"), val(""), 20, 30),
		}, false},
		{"read going back to an older value", []porcupine.Operation{
			op(0, put("x", "1"), val(""), 0, 10),
			op(0, put("x", "2"), val(""), 11, 20),
			op(1, get("x"), val("2"), 21, 25),
			op(2, get("x"), val("1"), 26, 30),
		}, false},
		{"a put with unknown outcome may take effect late", []porcupine.Operation{
			op(0, put("x", "1"), nil, 0, -1),
			op(1, get("x"), val(""), 20, 30),
			op(1, get("x"), val("1"), 40, 50),
		}, true},
		{"a put with unknown outcome may never take effect", []porcupine.Operation{
			op(0, put("x", "1"), nil, 0, -1),
			op(1, get("x"), val(""), 20, 30),
		}, true},
		{"keys are independent", []porcupine.Operation{
			op(0, put("x", "1"), val(""), 0, 10),
			op(1, get("y"), val(""), 20, 30),
			op(1, get("x"), val("1"), 31, 35),
		}, true},
	} {
		check(t, tc.name, linear.Register, tc.ops, tc.legal)
	}
}

func TestCounter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		ops   []porcupine.Operation
		legal bool
	}{
		{"concurrent increments", []porcupine.Operation{
			op(0, inc("c"), n(2), 0, 10),
			op(1, inc("c"), n(1), 1, 11),
			op(2, read("c"), n(2), 12, 13),
		}, true},
		{"stale read after an acknowledged increment", []porcupine.Operation{
			op(0, inc("c"), n(1), 0, 10),
			op(1, read("c"), n(0), 20, 30),
		}, false},
		{"two increments answered the same value", []porcupine.Operation{
			op(0, inc("c"), n(1), 0, 10),
			op(1, inc("c"), n(1), 0, 10),
		}, false},
		{"an increment with unknown outcome counts once or never", []porcupine.Operation{
			op(0, inc("c"), nil, 0, -1),
			op(1, read("c"), n(0), 5, 6),
			op(1, inc("c"), n(2), 7, 8),
		}, true},
		{"a counter does not go back", []porcupine.Operation{
			op(0, inc("c"), nil, 0, -1),
			op(1, read("c"), n(1), 5, 6),
			op(1, read("c"), n(0), 7, 8),
		}, false},
	} {
		check(t, tc.name, linear.Counter, tc.ops, tc.legal)
	}
}

// check runs Check on ops and requires the verdict legal, and a
// visualization file for an illegal history.
func check(t *testing.T, name string, m porcupine.Model, ops []porcupine.Operation, legal bool) {
	t.Helper()
	p := &probe{TB: t}
	res := linear.Check(p, m, ops, 0)
	if legal != (len(p.errors) == 0) {
		t.Errorf("%s: legal=%v, but Check reported %q (outcome %s)", name, legal, p.errors, res.Outcome)
	}
	if legal {
		return
	}
	if res.Visualization == "" || !strings.Contains(p.errors[0], res.Visualization) {
		t.Errorf("%s: no visualization named: %+v, %q", name, res, p.errors)
		return
	}
	if fi, err := os.Stat(res.Visualization); err != nil || fi.Size() == 0 {
		t.Errorf("%s: visualization %s: %v", name, res.Visualization, err)
	}
	os.Remove(res.Visualization)
}

// A linearizable register shared by concurrent clients, recorded through a
// Recorder, checks out; the counts are reported.
func TestRecorder_ConcurrentClientsOfALinearizableStore(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	regs := map[string]string{}
	rec := linear.NewRecorder()
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := "k" + strconv.Itoa(i%3)
				switch i % 4 {
				case 0:
					o := rec.Call(c, put(k, strconv.Itoa(c*1000+i)))
					mu.Lock()
					regs[k] = strconv.Itoa(c*1000 + i)
					mu.Unlock()
					o.Return(linear.RegisterOutput{})
				case 1:
					o := rec.Call(c, get(k))
					mu.Lock()
					v := regs[k]
					mu.Unlock()
					o.Return(val(v))
				case 2:
					o := rec.Call(c, get(k))
					o.Unknown() // a read lost in flight: dropped
				case 3:
					o := rec.Call(c, put(k, "u"+strconv.Itoa(i)))
					mu.Lock()
					regs[k] = "u" + strconv.Itoa(i)
					mu.Unlock()
					o.Unknown() // applied, but the answer was lost
				}
			}
		})
	}
	wg.Wait()
	res := linear.Check(t, linear.Register, rec.Operations(), 0)
	if res.Operations != 8*150 || res.Histories != 3 || res.Pending != 8*50 {
		t.Errorf("Check counted %+v, want 1200 operations (400 pending) in 3 histories", res)
	}
}

func TestRecorder_UnknownWritesArePending(t *testing.T) {
	t.Parallel()
	rec := linear.NewRecorder()
	rec.Call(0, inc("c")).Unknown()
	rec.Call(1, inc("c")).Return(n(1))
	rec.Call(1, read("c")).Unknown()
	ops := rec.Operations()
	if len(ops) != 2 || rec.Pending() != 1 || ops[0].Return != math.MaxInt64 || ops[0].Output != nil {
		t.Fatalf("recorded %+v (pending %d), want the unknown increment with an infinite return and the known one", ops, rec.Pending())
	}
	linear.Check(t, linear.Counter, ops, 0)
}
