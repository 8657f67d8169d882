// Package gateway is the HTTP front door of `roost serve`: it routes requests
// to objects, enforces the request body limit and answers every failure with
// Roost's JSON error shape, {"error":{"code":"…","message":"…"}}.
//
// In Roost's architecture it sits beside the runtime, not above it: it
// imports only the standard library and the leaves ids and errcode, and
// reaches objects through the [Objects] interface it declares, which the node
// (internal/node) implements. Other HTTP surfaces (a home page, /workflows/,
// /metrics) are mounted with [Gateway.Handle], so the gateway never imports
// the packages that serve them.
//
// # Routes
//
// A path that no mounted pattern matches is an object path:
//
//	/{class}/{name}/rest...     the object named name: ids.FromName(class, name)
//	/{class}/id/{hexid}/rest... the object with that ID
//
// The object receives a clone of the request whose path is /rest... (or /)
// with the query unchanged and the header X-Roost-Object-Id set to its ID.
// [ParseRoute] has the exact rules.
//
// # Bodies
//
// The gateway reads the whole request body before it calls the object, up to
// Config.MaxBodyBytes, so the object's turn starts only once the bytes are
// in memory: a slow or stalled client cannot hold up the other callers of
// the same object. A body over the limit is answered with 413 body_too_large
// and never reaches the object. The object's response is complete when Fetch
// returns it (its writes are already durable); the gateway streams it out.
package gateway
