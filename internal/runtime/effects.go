package runtime

import "context"

// effects are what an event releases only once its writes are durable (the
// output gate): messages to WebSockets, for example.
type effects struct{ fns []func() }

type effectsKey struct{}

// AfterCommit runs fn once the writes of the event that ctx belongs to are
// durable, and never if the event fails or its commit does. Outside an
// event, fn runs at once. fn runs on the object's goroutine: it must not
// block or wait for events.
func AfterCommit(ctx context.Context, fn func()) {
	if e, ok := ctx.Value(effectsKey{}).(*effects); ok {
		e.fns = append(e.fns, fn)
		return
	}
	fn()
}

// withEffects gives an event's context a place for its effects.
func withEffects(ctx context.Context) (context.Context, *effects) {
	e := &effects{}
	return context.WithValue(ctx, effectsKey{}, e), e
}

// runEffects runs fns in order.
func runEffects(fns []func()) {
	for _, fn := range fns {
		fn()
	}
}
