package roost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/node"
)

// maxMethodName is the longest method name, in bytes.
const maxMethodName = 128

// Method is an RPC method of objects of type T: it takes a Req and returns a
// Resp. Both cross as JSON, also within one process, so that a call means
// the same when it crosses nodes. Declare methods as package-level variables
// and register them with their class in [ClassOptions.Methods]:
//
//	var Deposit = roost.NewMethod("deposit", (*Account).Deposit) // func (a *Account) Deposit(ctx context.Context, req DepositRequest) (Balance, error)
//
//	accounts := roost.RegisterWithOptions(app, "account", NewAccount,
//		&roost.ClassOptions{Methods: []roost.MethodHandler{Deposit}})
//	bal, err := Deposit.Call(ctx, accounts.GetByName("ada"), DepositRequest{Cents: 500})
//
// A call is one event of the object, like an HTTP request: it takes its
// turn, its writes commit together when the method returns nil, and an error
// or a panic rolls them back and resets the instance.
//
// A method that calls itself on other objects cannot name itself in its own
// declaration (Go reports an initialization cycle): declare the variable,
// and set it in an init function.
type Method[T, Req, Resp any] struct {
	name string
	fn   func(obj T, ctx context.Context, req Req) (Resp, error)
}

// NewMethod returns the RPC method called name of objects of type T,
// implemented by fn. A method expression fits: NewMethod("add",
// (*Counter).Add). The name identifies the method on the wire: keep it when
// you rename the Go function. NewMethod panics if name is empty, longer than 128 bytes or
// has a character other than ASCII letters, digits, '_', '.' and '-', or if
// fn is nil: a programmer mistake, found when the program starts.
func NewMethod[T, Req, Resp any](name string, fn func(obj T, ctx context.Context, req Req) (Resp, error)) *Method[T, Req, Resp] {
	m := &Method[T, Req, Resp]{name: name, fn: fn}
	if err := m.valid(); err != nil {
		panic("roost: NewMethod: " + err.Error())
	}
	return m
}

// Name returns the method's name.
func (m *Method[T, Req, Resp]) Name() string { return m.name }

// Call calls the method on the object behind stub and returns its response
// once the event's writes are durable (the output gate): a response is never
// seen for writes that could still be lost.
//
// The method's ctx derives from ctx: it has the same deadline and values and
// ends with it. A call still queued when ctx ends never runs; one already
// running finishes or fails on its own (its writes commit or roll back), and
// Call returns ctx's error.
//
// Inside a method, or any handler, pass the ctx the handler got on to
// further calls: it carries the call chain. A chain that comes back to an
// object already in it (A calls A, or A calls B calls A) then fails at once
// with code call_cycle: Roost never re-enters an object whose events take
// turns (objects of a Concurrent class take the call). A call with another
// context cannot be checked, and waits for its own turn until that context
// ends:
//
//	resp, err := Other.Call(ctx, stub, req)                  // DO: ctx is the method's
//	resp, err := Other.Call(context.Background(), stub, req) // DON'T: a cycle hangs
//
// Errors keep their code and message across the call: an error the method
// returns fails the event and arrives as an [*Error] with the same code and
// message (handler_error for an error without a code). Only the code and
// the message cross, as they would from another node: the rest of the
// error's chain stays behind. Other errors:
// unknown_method (the stub's class did not register m; nothing is sent),
// bad_request (req does not encode, or the payload does not decode into a
// Req), call_cycle, [ErrOverloaded], [ErrShuttingDown], [ErrUnknownClass],
// handler_panic, init_failed, a commit failure (storage_full,
// storage_failed) and ctx's error. An error with code timeout or canceled
// also matches context.DeadlineExceeded or context.Canceled.
func (m *Method[T, Req, Resp]) Call(ctx context.Context, stub *Stub, req Req) (Resp, error) {
	var resp Resp
	if err := stub.ns.registered(m); err != nil {
		return resp, err
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return resp, &errcode.Error{Code: errcode.BadRequest, Message: fmt.Sprintf("method %s: encode request: %v", m.name, err), Err: err}
	}
	reply, err := stub.call(ctx, m.name, payload)
	if err != nil {
		return resp, err
	}
	if err := json.Unmarshal(reply, &resp); err != nil {
		return resp, &errcode.Error{Code: errcode.Internal, Err: err, Message: fmt.Sprintf(
			"method %s: decode response into %T (the call ran and its writes committed): %v", m.name, resp, err)}
	}
	return resp, nil
}

// MethodHandler is a method as its class registers it, in
// [ClassOptions.Methods]: a *[Method], the only implementation. The class
// serves calls by the method's name, so a call that arrives as bytes finds
// its method.
type MethodHandler interface {
	rpcName() string
	// check reports why the method cannot be registered for a class whose
	// objects are of type obj.
	check(obj reflect.Type) error
	// serve decodes payload into a Req, calls the method on inst and returns
	// the encoded Resp.
	serve(ctx context.Context, inst any, payload []byte) ([]byte, error)
	// types returns the types of Req and Resp.
	types() (req, resp reflect.Type)
}

func (m *Method[T, Req, Resp]) rpcName() string { return m.name }

func (m *Method[T, Req, Resp]) types() (req, resp reflect.Type) {
	return reflect.TypeFor[Req](), reflect.TypeFor[Resp]()
}

func (m *Method[T, Req, Resp]) valid() error {
	if m == nil || m.fn == nil {
		return errors.New("nil method function (make methods with roost.NewMethod)")
	}
	return validMethodName(m.name)
}

func (m *Method[T, Req, Resp]) check(obj reflect.Type) error {
	if err := m.valid(); err != nil {
		return err
	}
	if t := reflect.TypeFor[T](); !obj.AssignableTo(t) {
		return fmt.Errorf("method %q is a method of %s, and the class's objects are %s", m.name, t, obj)
	}
	return nil
}

func (m *Method[T, Req, Resp]) serve(ctx context.Context, inst any, payload []byte) ([]byte, error) {
	obj, ok := inst.(T)
	if !ok {
		return nil, errcode.New(errcode.Internal, "method %s: the object is a %T, not a %s", m.name, inst, reflect.TypeFor[T]())
	}
	var req Req
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, &errcode.Error{Code: errcode.BadRequest, Message: fmt.Sprintf("method %s: decode request: %v", m.name, err), Err: err}
	}
	resp, err := m.fn(obj, ctx, req)
	if err != nil {
		return nil, err
	}
	reply, err := json.Marshal(resp)
	if err != nil {
		return nil, &errcode.Error{Code: errcode.Internal, Message: fmt.Sprintf("method %s: encode response: %v", m.name, err), Err: err}
	}
	return reply, nil
}

// validMethodName reports why name cannot name a method.
func validMethodName(name string) error {
	if name == "" || len(name) > maxMethodName {
		return fmt.Errorf("method name %q: must be 1 to %d characters long", name, maxMethodName)
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("method name %q: may hold only ASCII letters, digits, '_', '.' and '-'", name)
		}
	}
	return nil
}

// methodTable indexes the methods of a class whose objects are of type T by
// name. It panics on a nil method, one of another type or a repeated name.
func methodTable[T any](class string, methods []MethodHandler) map[string]MethodHandler {
	if len(methods) == 0 {
		return nil
	}
	obj := reflect.TypeFor[T]()
	table := make(map[string]MethodHandler, len(methods))
	for i, h := range methods {
		if h == nil {
			panic(fmt.Sprintf("roost: register %q: Methods[%d] is nil", class, i))
		}
		if err := h.check(obj); err != nil {
			panic(fmt.Sprintf("roost: register %q: Methods[%d]: %v", class, i, err))
		}
		if _, dup := table[h.rpcName()]; dup {
			panic(fmt.Sprintf("roost: register %q: Methods[%d]: a method named %q is already registered", class, i, h.rpcName()))
		}
		table[h.rpcName()] = h
	}
	return table
}

// registered fails unless the class registered h itself. A method of the
// same name is not enough: two classes may each have a method "get", and a
// call of one on the other's object would run other code on a request of
// another type. (Calls that arrive as bytes have only the name.)
func (ns *Namespace) registered(h MethodHandler) error {
	switch reg, ok := ns.methods[h.rpcName()]; {
	case !ok:
		return unknownMethod(ns.class, h.rpcName())
	case reg != h:
		return errcode.New(errcode.UnknownMethod, "class %s has another RPC method named %q, not this one (each roost.NewMethod value is a method of its own)", ns.class, h.rpcName())
	}
	return nil
}

func unknownMethod(class, method string) error {
	return errcode.New(errcode.UnknownMethod, "class %s has no RPC method %q (register it in ClassOptions.Methods)", class, method)
}

// serveRPC runs the method named method on inst, in the object's turn. An
// error fails the event, and leaves in the form it has on the wire: see
// [overWire].
func (ns *Namespace) serveRPC(ctx context.Context, inst any, method string, payload []byte) ([]byte, error) {
	h, ok := ns.methods[method]
	if !ok {
		return nil, overWire(unknownMethod(ns.class, method))
	}
	reply, err := h.serve(ctx, inst, payload)
	if err != nil {
		return nil, overWire(node.HandlerError(err))
	}
	return reply, nil
}

// wireError is an error as it crosses the wire.
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// overWire returns err as a caller on another node would get it: encoded as
// {code, message} and decoded into an *Error. The rest of err (its causes,
// their types) stays behind, so code that handles a call's errors works the
// same when the call starts to cross nodes.
func overWire(err error) error {
	b, mErr := json.Marshal(wireError{Code: string(errcode.Of(err)), Message: err.Error()})
	if mErr != nil { // cannot happen: two strings
		return errcode.Wrap(errcode.Internal, mErr)
	}
	return decodeError(b)
}

// decodeError rebuilds an error from its wire form. Codes timeout and
// canceled match the context errors again.
func decodeError(b []byte) error {
	var w wireError
	if err := json.Unmarshal(b, &w); err != nil || w.Code == "" {
		return errcode.New(errcode.Internal, "rpc: malformed error reply %.200q", b)
	}
	e := &errcode.Error{Code: errcode.Code(w.Code), Message: w.Message}
	switch e.Code {
	case errcode.Timeout:
		e.Err = context.DeadlineExceeded
	case errcode.Canceled:
		e.Err = context.Canceled
	}
	return e
}
