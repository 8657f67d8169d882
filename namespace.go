package roost

import (
	"context"
	"fmt"

	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/node"
)

// Namespace is a registered class: it makes IDs and stubs for its objects.
type Namespace struct {
	app     *App
	class   string
	methods map[string]MethodHandler // by name; read-only after Register
}

// ClassOptions are per-class options; nil means the defaults.
type ClassOptions struct {
	// Concurrent lets events of one object run at the same time. The class
	// then owns its locking, and each storage write outside
	// Storage.Transaction commits on its own. Default false: events of one
	// object take turns, and all writes of an event commit together.
	Concurrent bool
	// Methods are the RPC methods the class's objects answer (see [Method]):
	// each a method of the class's object type (or of an interface that type
	// implements), under a name no other of them has. Register panics
	// otherwise.
	Methods []MethodHandler
	// WebSocketRPC lets clients call the Methods over the objects' sockets
	// too: a text message that is a JSON object with a string "rpc" member,
	// {"rpc":"add","id":7,"params":{"by":1}}, is a call of that method
	// (params is its request; id, any JSON value, comes back in the reply)
	// instead of a message for WebSocketMessage. The call is one event of the
	// object, as over HTTP; once its writes are durable the socket gets
	// {"rpc":"add","id":7,"result":…}, or {"rpc":"add","id":7,
	// "error":{"code":…,"message":…}} with the codes of RPC over HTTP. The
	// socket's calls run in the order they arrive, with its other messages.
	WebSocketRPC bool
}

// Register registers a class: newObject is called with the object's *State
// on each activation (the first event after the object was out of memory).
// T handles HTTP requests if it implements [http.Handler] or [FetchHandler].
// Register panics on an invalid or duplicate class name, like http.Handle: it
// is a programmer mistake found at startup.
func Register[T any](app *App, class string, newObject func(*State) (T, error)) *Namespace {
	return RegisterWithOptions(app, class, newObject, nil)
}

// RegisterWithOptions is [Register] with class options.
func RegisterWithOptions[T any](app *App, class string, newObject func(*State) (T, error), opts *ClassOptions) *Namespace {
	if opts == nil {
		opts = &ClassOptions{}
	}
	ns := &Namespace{app: app, class: class, methods: methodTable[T](class, opts.Methods)}
	var zero T
	_, alarms := any(zero).(AlarmHandler)
	_, timers := any(zero).(TimerHandler)
	_, socks := any(zero).(WebSocketHandler)
	c := &node.Class{
		Name:       class,
		Concurrent: opts.Concurrent,
		New: func(ctx context.Context, act *node.Activation) (any, error) {
			obj, err := newObject(&State{act: act, ctx: ctx, ns: ns})
			if err != nil {
				return nil, err
			}
			return obj, nil
		},
		Alarms: alarms, Timers: timers, Sockets: socks,
	}
	if ns.methods != nil {
		c.Call, c.Methods = ns.serveRPC, describeMethods(ns.methods)
		c.SocketRPC = opts.WebSocketRPC
	}
	if err := app.n.Register(c); err != nil {
		panic(fmt.Sprintf("roost: register %q: %v", class, err))
	}
	return ns
}

// Class returns the class name.
func (ns *Namespace) Class() string { return ns.class }

// IDFromName returns the ID of the object with that name: a keyed hash of
// the class and the name, the same on every node and after every restart.
func (ns *Namespace) IDFromName(name string) ID { return ids.FromName(ns.class, name) }

// NewUniqueID returns a new random ID.
func (ns *Namespace) NewUniqueID() ID { return ids.New() }

// IDFromString parses an ID: exactly 64 lowercase hex characters; anything
// else is an error that wraps [ErrInvalidID].
func (ns *Namespace) IDFromString(s string) (ID, error) { return ids.Parse(s) }

// Get returns a stub for the object with that ID. Getting a stub does not
// activate the object; the first event sent through it does.
func (ns *Namespace) Get(id ID) *Stub { return &Stub{ns: ns, id: id} }

// GetByName returns a stub for the object with that name: Get(IDFromName(name)),
// and the object inventory records the name, so operators can find the
// object by it (roost objects ls).
func (ns *Namespace) GetByName(name string) *Stub {
	return &Stub{ns: ns, id: ns.IDFromName(name), name: name}
}
