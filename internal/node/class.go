package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/roost-dev/roost/internal/admin"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/runtime"
)

// Class is a registered class as the node sees it: its constructor, the
// handlers its instances implement, and its RPC methods.
type Class struct {
	// Name is the class name (ids.ValidClass).
	Name string
	// Concurrent lets events of one object run at the same time.
	Concurrent bool
	// New constructs an instance on each activation.
	New func(ctx context.Context, act *Activation) (any, error)
	// Alarms, Timers and Sockets say whether the instances implement the
	// handlers of the alarm, of named timers and cron, and of WebSockets:
	// setting one without its handler fails with not_implemented.
	Alarms, Timers, Sockets bool
	// Call runs the RPC method named method on inst with its JSON request
	// and returns its JSON response. Nil: the class has no methods.
	Call func(ctx context.Context, inst any, method string, payload []byte) ([]byte, error)
	// Methods describes the RPC methods for the admin API, sorted by name.
	Methods []MethodInfo
	// SocketRPC lets the instances' sockets carry calls of the methods
	// (see socketCall).
	SocketRPC bool
}

// MethodInfo describes an RPC method: its name and the JSON Schemas of its
// request and response.
type MethodInfo = admin.Method

// Handlers reach the user's code in an instance: the root package
// implements them with its handler interfaces (roost.FetchHandler,
// roost.AlarmHandler, …). Each runs in the instance's event; a plain error
// it returns gets the code handler_error.
type Handlers interface {
	// ServeHTTP handles a request; w buffers the response (the output gate).
	ServeHTTP(ctx context.Context, inst any, w http.ResponseWriter, r *http.Request) error
	// Fire runs a fire of the alarm (Name "") or of a named timer.
	Fire(ctx context.Context, inst any, f Fire) error
	// SocketMessage, SocketClose and SocketError hand what happened on a
	// socket to its object.
	SocketMessage(ctx context.Context, inst any, s *Socket, binary bool, data []byte) error
	SocketClose(ctx context.Context, inst any, s *Socket, code int, reason string) error
	SocketError(ctx context.Context, inst any, s *Socket, err error) error
}

// Register adds a class and wakes the objects whose timers came due
// before it was registered. It fails for an invalid or duplicate name.
func (n *Node) Register(c *Class) error {
	err := n.rt.Register(&runtime.Class{
		Name:       c.Name,
		Concurrent: c.Concurrent,
		New: func(ctx context.Context, act *runtime.Activation) (any, error) {
			return c.New(ctx, &Activation{Activation: act, n: n, class: c})
		},
	})
	if err != nil {
		return err
	}
	n.classes.Store(c.Name, c)
	n.unpark(c.Name)
	return nil
}

// classInfos describes the registered classes, sorted by name.
func (n *Node) classInfos() []admin.Class {
	var out []admin.Class
	n.classes.Range(func(_, v any) bool {
		c := v.(*Class)
		out = append(out, admin.Class{Name: c.Name, Methods: append([]MethodInfo{}, c.Methods...)})
		return true
	})
	slices.SortFunc(out, func(a, b admin.Class) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// HasClass reports whether a class of that name is registered.
func (n *Node) HasClass(name string) bool {
	_, ok := n.classes.Load(name)
	return ok
}

// class returns the registered class of that name.
func (n *Node) class(name string) (*Class, bool) {
	c, ok := n.classes.Load(name)
	if !ok {
		return nil, false
	}
	return c.(*Class), true
}

// knownClass fails with ErrUnknownClass unless class is registered.
func (n *Node) knownClass(class string) error {
	if !n.HasClass(class) {
		return fmt.Errorf("%w %q", ErrUnknownClass, class)
	}
	return nil
}

// HandlerError gives a handler's plain error the code handler_error,
// keeping codes that errors already carry.
func HandlerError(err error) error {
	if err == nil || errcode.Of(err) != errcode.Internal {
		return err
	}
	var ce *errcode.Error
	if errors.As(err, &ce) {
		return err // an internal error, already coded
	}
	return &errcode.Error{Code: errcode.HandlerError, Message: "handler failed: " + err.Error(), Err: err}
}
