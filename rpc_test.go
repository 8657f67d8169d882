package roost_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost"
)

// ledger is the object class of the RPC tests: a balance in storage.
type ledger struct {
	st    *roost.State
	class *ledgerClass
	gen   int64       // which construction of the class this instance is: 1 for the first
	busy  atomic.Bool // a call is running: two at once would break turn-taking
}

// ledgerClass is a registered ledger class, with the hooks of the tests.
type ledgerClass struct {
	*roost.Namespace
	constructs atomic.Int64
	// overlaps counts calls that started while another call of the same
	// object was running.
	overlaps atomic.Int64
	// started, if set, hears of ledgerWait and ledgerBlock starting; ended,
	// if set, gets the error of ledgerWait's ctx. release ends ledgerBlock.
	started chan string
	ended   chan error
	release chan struct{}
}

// registerLedger registers the ledger class under name, with its methods.
func registerLedger(app *testApp, name string) *ledgerClass {
	c := &ledgerClass{started: make(chan string, 1), ended: make(chan error, 1), release: make(chan struct{})}
	c.Namespace = roost.RegisterWithOptions(app.App, name, func(st *roost.State) (*ledger, error) {
		return &ledger{st: st, class: c, gen: c.constructs.Add(1)}, nil
	}, &roost.ClassOptions{Methods: []roost.MethodHandler{
		ledgerDeposit, ledgerBalance, ledgerDeadline, ledgerWait, ledgerBlock, ledgerHop, ledgerPing,
	}})
	return c
}

type depositRequest struct {
	Amount int64  `json:"amount"`
	Fail   string `json:"fail,omitempty"` // after writing: "code" fails with insufficient_funds, "plain" with errLedgerOnFire
	Pad    int    `json:"pad,omitempty"`  // also store a value of this many bytes
}

type balance struct {
	Balance int64 `json:"balance"`
	Gen     int64 `json:"gen"`
}

var errLedgerOnFire = errors.New("ledger on fire")

var ledgerDeposit = roost.NewMethod("deposit", (*ledger).deposit)

func (l *ledger) deposit(ctx context.Context, req depositRequest) (balance, error) {
	if l.busy.Swap(true) {
		l.class.overlaps.Add(1)
	}
	defer l.busy.Store(false)
	s := l.st.Storage()
	b, _, err := roost.GetJSON[int64](ctx, s, "balance")
	if err == nil {
		b += req.Amount
		err = roost.PutJSON(ctx, s, "balance", b)
	}
	if err == nil && req.Pad > 0 {
		err = s.Put(ctx, "pad", make([]byte, req.Pad))
	}
	switch {
	case err != nil:
		return balance{}, fmt.Errorf("deposit: %w", err)
	case req.Fail == "code":
		return balance{}, roost.NewError("insufficient_funds", "balance too low")
	case req.Fail == "plain":
		return balance{}, errLedgerOnFire
	}
	return balance{Balance: b, Gen: l.gen}, nil
}

var ledgerBalance = roost.NewMethod("balance", func(l *ledger, ctx context.Context, _ struct{}) (balance, error) {
	b, _, err := roost.GetJSON[int64](ctx, l.st.Storage(), "balance")
	return balance{Balance: b, Gen: l.gen}, err
})

type deadlineReply struct {
	Deadline time.Time `json:"deadline"`
	OK       bool      `json:"ok"`
}

var ledgerDeadline = roost.NewMethod("deadline", func(l *ledger, ctx context.Context, _ struct{}) (deadlineReply, error) {
	d, ok := ctx.Deadline()
	return deadlineReply{Deadline: d, OK: ok}, nil
})

type waitRequest struct {
	// Within, if set, is a deadline the callee sets itself.
	Within time.Duration `json:"within,omitempty"`
}

// ledgerWait blocks until its ctx ends, and returns ctx's error.
var ledgerWait = roost.NewMethod("wait", func(l *ledger, ctx context.Context, req waitRequest) (struct{}, error) {
	if req.Within > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Within)
		defer cancel()
	}
	l.class.started <- "wait"
	<-ctx.Done()
	l.class.ended <- ctx.Err()
	return struct{}{}, fmt.Errorf("wait: %w", ctx.Err())
})

// ledgerBlock blocks until the test closes release.
var ledgerBlock = roost.NewMethod("block", func(l *ledger, ctx context.Context, _ struct{}) (struct{}, error) {
	l.class.started <- "block"
	select {
	case <-l.class.release:
		return struct{}{}, nil
	case <-ctx.Done():
		return struct{}{}, ctx.Err()
	}
})

type hopRequest struct {
	Path []string `json:"path"` // the names of the objects to call next, in order
}

// ledgerHop calls ledgerHop on the object named Path[0] with the rest of the
// path, passing its ctx on; it returns the number of hops made. (A method
// that calls itself is set in init: its declaration cannot refer to itself.)
var ledgerHop *roost.Method[*ledger, hopRequest, int]

func init() { ledgerHop = roost.NewMethod("hop", (*ledger).hop) }

func (l *ledger) hop(ctx context.Context, req hopRequest) (int, error) {
	if len(req.Path) == 0 {
		return 0, nil
	}
	n, err := ledgerHop.Call(ctx, l.class.GetByName(req.Path[0]), hopRequest{Path: req.Path[1:]})
	if err != nil {
		return 0, fmt.Errorf("hop to %s: %w", req.Path[0], err)
	}
	return n + 1, nil
}

type ping struct {
	N int `json:"n"`
}

// ledgerPing answers its request, touching no storage: it commits nothing.
var ledgerPing = roost.NewMethod("ping", func(l *ledger, ctx context.Context, req ping) (ping, error) {
	return req, nil
})

// deposit calls ledgerDeposit on the object named name and fails the test
// on error.
func (c *ledgerClass) deposit(t testing.TB, name string, req depositRequest) balance {
	t.Helper()
	b, err := ledgerDeposit.Call(t.Context(), c.GetByName(name), req)
	if err != nil {
		t.Fatalf("deposit %+v to %s: %v (code %s)", req, name, err, roost.ErrorCode(err))
	}
	return b
}

// balance calls ledgerBalance on the object named name and fails the test on
// error.
func (c *ledgerClass) balance(t testing.TB, name string) balance {
	t.Helper()
	b, err := ledgerBalance.Call(t.Context(), c.Get(c.IDFromName(name)), struct{}{})
	if err != nil {
		t.Fatalf("balance of %s: %v (code %s)", name, err, roost.ErrorCode(err))
	}
	return b
}

func TestRPC_TypedRoundTripPersists(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	ledgers := registerLedger(app, "ledger")
	if got := ledgers.deposit(t, "ada", depositRequest{Amount: 5}); got != (balance{Balance: 5, Gen: 1}) {
		t.Fatalf("first deposit = %+v, want balance 5 from the first instance", got)
	}
	if got := ledgers.deposit(t, "ada", depositRequest{Amount: 7}); got.Balance != 12 {
		t.Fatalf("second deposit = %+v, want balance 12", got)
	}
	if got := ledgers.balance(t, "ada"); got.Balance != 12 {
		t.Fatalf("balance = %+v, want 12", got)
	}
	if got := ledgers.balance(t, "bob"); got.Balance != 0 {
		t.Fatalf("balance of another object = %+v, want 0", got)
	}

	app = app.reopen(t)
	ledgers = registerLedger(app, "ledger")
	if got := ledgers.balance(t, "ada"); got.Balance != 12 {
		t.Fatalf("balance after reopening = %+v, want 12", got)
	}
}

func TestRPC_ErrorsKeepTheirCodeAndRollBack(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	ledgers := registerLedger(app, "ledger")
	tests := []struct {
		name    string
		req     depositRequest
		code    string
		message string // the error's whole message, or with a "…" suffix its start
	}{
		{name: "custom code", req: depositRequest{Amount: 100, Fail: "code"}, code: "insufficient_funds", message: "balance too low"},
		{name: "plain error", req: depositRequest{Amount: 100, Fail: "plain"}, code: "handler_error", message: "handler failed: ledger on fire"},
		{name: "storage limit", req: depositRequest{Amount: 100, Pad: 2<<20 + 1}, code: "limit_exceeded", message: "deposit: …"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ledgers.deposit(t, tt.name, depositRequest{Amount: 10})
			before := ledgers.balance(t, tt.name)

			_, err := ledgerDeposit.Call(t.Context(), ledgers.GetByName(tt.name), tt.req)
			wantCode(t, err, tt.code)
			var e *roost.Error
			if !errors.As(err, &e) || e.ErrorCode() != tt.code {
				t.Fatalf("error %q (%T) is not a *roost.Error with code %s", err, err, tt.code)
			}
			if want, ok := strings.CutSuffix(tt.message, "…"); ok && !strings.HasPrefix(e.Message, want) || !ok && e.Message != want {
				t.Errorf("message = %q, want %q", e.Message, tt.message)
			}
			if errors.Is(err, errLedgerOnFire) {
				t.Error("the method's error crossed the call: only its code and message should")
			}

			after := ledgers.balance(t, tt.name)
			if after.Balance != before.Balance {
				t.Errorf("balance after the failed call = %d, want %d: its writes were not rolled back", after.Balance, before.Balance)
			}
			if after.Gen == before.Gen {
				t.Errorf("the instance after the failed call is construction %d, as before: it was not reset", after.Gen)
			}
		})
	}
}

func TestRPC_UnknownMethodFailsBeforeActivation(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	registerLedger(app, "ledger")
	plain := registerObj(app, "plain", nil)
	// A class with a method of the same name, but another one.
	objDeposit := roost.NewMethod("deposit", func(o *obj, ctx context.Context, req depositRequest) (balance, error) {
		t.Error("objDeposit ran")
		return balance{}, nil
	})
	same := registerObjWithOptions(app, "same-name", nil, &roost.ClassOptions{Methods: []roost.MethodHandler{objDeposit}})

	for _, ns := range []*roost.Namespace{plain.Namespace, same.Namespace} {
		_, err := ledgerDeposit.Call(t.Context(), ns.GetByName("x"), depositRequest{Amount: 1})
		wantCode(t, err, "unknown_method")
		if msg := err.Error(); !strings.Contains(msg, ns.Class()) || !strings.Contains(msg, `"deposit"`) {
			t.Errorf("error %q names neither the class %s nor the method deposit", msg, ns.Class())
		}
	}
	if n := app.ActiveObjects(); n != 0 {
		t.Errorf("%d objects activated for calls of unknown methods, want 0", n)
	}
}

// wantPanic fails the test unless fn panics with a message that contains
// want.
func wantPanic(t *testing.T, want string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		p := recover()
		if p == nil {
			t.Fatalf("no panic, want one with %q", want)
		}
		if msg := fmt.Sprint(p); !strings.Contains(msg, want) {
			t.Fatalf("panic %q, want one with %q", msg, want)
		}
	}()
	fn()
}

func TestRPC_RegisterPanicsOnBadMethods(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	fn := func(o *obj, ctx context.Context, req ping) (ping, error) { return req, nil }
	pong, otherPing := roost.NewMethod("pong", fn), roost.NewMethod("ping", fn)
	tests := []struct {
		name    string
		methods []roost.MethodHandler
		want    string
	}{
		{name: "method of another type", methods: []roost.MethodHandler{ledgerPing}, want: "is a method of *roost_test.ledger, and the class's objects are *roost_test.obj"},
		{name: "repeated name", methods: []roost.MethodHandler{objPing, pong, otherPing}, want: `Methods[2]: a method named "ping" is already registered`},
		{name: "nil", methods: []roost.MethodHandler{nil}, want: "Methods[0] is nil"},
		{name: "zero Method", methods: []roost.MethodHandler{&roost.Method[*obj, int, int]{}}, want: "nil method function"},
		{name: "nil *Method", methods: []roost.MethodHandler{(*roost.Method[*obj, int, int])(nil)}, want: "nil method function"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			class := fmt.Sprintf("bad-%d", i)
			wantPanic(t, tt.want, func() {
				registerObjWithOptions(app, class, nil, &roost.ClassOptions{Methods: tt.methods})
			})
			// The class was not registered halfway: its name is still free.
			registerObjWithOptions(app, class, nil, &roost.ClassOptions{Methods: []roost.MethodHandler{objPing}})
		})
	}
}

var objPing = roost.NewMethod("ping", func(o *obj, ctx context.Context, req ping) (ping, error) { return req, nil })

// pinger is an interface that obj implements, for methods shared by classes.
type pinger interface {
	Fetch(w http.ResponseWriter, r *http.Request) error
}

func TestRPC_RegisterAcceptsMethodsOfInterfaces(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	gen := roost.NewMethod("gen", func(p pinger, ctx context.Context, _ struct{}) (int64, error) {
		return p.(*obj).gen, nil
	})
	objs := registerObjWithOptions(app, "objs", nil, &roost.ClassOptions{Methods: []roost.MethodHandler{gen}})
	if n, err := gen.Call(t.Context(), objs.GetByName("x"), struct{}{}); err != nil || n != 1 {
		t.Fatalf("gen = %d, %v; want 1, nil", n, err)
	}
}

func TestMethod_NewMethodPanicsOnBadName(t *testing.T) {
	t.Parallel()
	fn := func(o *obj, ctx context.Context, req ping) (ping, error) { return req, nil }
	for _, name := range []string{"", "two words", "ümlaut", "slash/ed", strings.Repeat("a", 129)} {
		t.Run(fmt.Sprintf("%.20q", name), func(t *testing.T) {
			wantPanic(t, "method name", func() { roost.NewMethod(name, fn) })
		})
	}
	t.Run("nil function", func(t *testing.T) {
		wantPanic(t, "nil method function", func() { roost.NewMethod[*obj, ping, ping]("ping", nil) })
	})
	for _, name := range []string{"a", "Ledger.Deposit-v2_beta", strings.Repeat("a", 128)} {
		if m := roost.NewMethod(name, fn); m.Name() != name {
			t.Errorf("Name() = %q, want %q", m.Name(), name)
		}
	}
}

func TestRPC_CallCycleFailsFast(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	ledgers := registerLedger(app, "ledger")
	tests := []struct {
		name string
		from string
		path []string
	}{
		{name: "A calls A", from: "a", path: []string{"a"}},
		{name: "A calls B calls A", from: "a", path: []string{"b", "a"}},
		{name: "A calls B calls C calls B", from: "a", path: []string{"b", "c", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A cycle must fail at once; a hang would end with code
			// timeout.
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			_, err := ledgerHop.Call(ctx, ledgers.GetByName(tt.from), hopRequest{Path: tt.path})
			wantCode(t, err, "call_cycle")
		})
	}
	t.Run("no cycle", func(t *testing.T) {
		n, err := ledgerHop.Call(t.Context(), ledgers.GetByName("a"), hopRequest{Path: []string{"b", "c", "d"}})
		if err != nil || n != 3 {
			t.Fatalf("hop a→b→c→d = %d, %v; want 3 hops", n, err)
		}
	})
}

func TestRPC_CalleeSeesCallersDeadline(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	ledgers := registerLedger(app, "ledger")
	deadline := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	defer cancel()
	got, err := ledgerDeadline.Call(ctx, ledgers.GetByName("a"), struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.OK || !got.Deadline.Equal(deadline) {
		t.Fatalf("callee's deadline = %v (set: %v), want %v", got.Deadline, got.OK, deadline)
	}
	if got, err := ledgerDeadline.Call(t.Context(), ledgers.GetByName("a"), struct{}{}); err != nil || got.OK {
		t.Fatalf("callee's deadline without one = %+v, %v; want none", got, err)
	}
}

// expiringCtx is a context whose deadline passes when the test closes done.
type expiringCtx struct {
	context.Context
	deadline time.Time
	done     chan struct{}
}

func (c *expiringCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *expiringCtx) Done() <-chan struct{}       { return c.done }

func (c *expiringCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func TestRPC_CallerDeadlineEndsBlockedCallee(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	ledgers := registerLedger(app, "ledger")
	ctx := &expiringCtx{Context: t.Context(), deadline: time.Now().Add(time.Hour), done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		_, err := ledgerWait.Call(ctx, ledgers.GetByName("a"), waitRequest{})
		errc <- err
	}()
	<-ledgers.started
	close(ctx.done)
	err := <-errc
	wantCode(t, err, "timeout")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q does not match context.DeadlineExceeded", err)
	}
	if err := <-ledgers.ended; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("callee's ctx ended with %v, want context.DeadlineExceeded", err)
	}
}

func TestRPC_CalleeTimeoutCrossesAsTimeout(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	ledgers := registerLedger(app, "ledger")
	_, err := ledgerWait.Call(t.Context(), ledgers.GetByName("a"), waitRequest{Within: time.Millisecond})
	wantCode(t, err, "timeout")
	var e *roost.Error
	if !errors.As(err, &e) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q (%T): want a *roost.Error that matches context.DeadlineExceeded", err, err)
	}
	<-ledgers.started
	<-ledgers.ended
}

func TestRPC_CallsToOneObjectTakeTurns(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	ledgers := registerLedger(app, "ledger")
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()

	// One object is busy for the whole test: the others do not wait for it.
	blocked := make(chan error, 1)
	go func() {
		_, err := ledgerBlock.Call(ctx, ledgers.GetByName("busy"), struct{}{})
		blocked <- err
	}()
	<-ledgers.started

	const calls = 200
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex // guards balances
		balances []int64
	)
	for range calls {
		wg.Go(func() {
			b, err := ledgerDeposit.Call(ctx, ledgers.GetByName("acct"), depositRequest{Amount: 1})
			if err != nil {
				t.Errorf("deposit: %v (code %s)", err, roost.ErrorCode(err))
				return
			}
			mu.Lock()
			balances = append(balances, b.Balance)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(balances)
	for i, b := range balances {
		if b != int64(i+1) {
			t.Fatalf("the calls saw balances %v, want each of 1…%d once", balances, calls)
		}
	}
	if got := ledgers.balance(t, "acct"); got.Balance != calls {
		t.Errorf("balance = %d, want %d", got.Balance, calls)
	}
	if n := ledgers.overlaps.Load(); n != 0 {
		t.Errorf("%d calls ran while another call of the object was running", n)
	}
	close(ledgers.release)
	if err := <-blocked; err != nil {
		t.Errorf("blocked call: %v", err)
	}
}
