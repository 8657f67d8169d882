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
// A class with RPC methods takes calls over HTTP under [RPCPrefix]:
//
//	POST /{class}/{name}/rpc/{method}   the body is the method's JSON request; 200 answers its JSON response
//
// (and /{class}/id/{hexid}/rpc/{method}). Errors have the same codes and
// statuses as the method's Go callers see; the body limit is the same.
//
// No path is ever rewritten into another: a path with a "." or ".." segment
// gets 400 bad_request on every route ([CheckPath]), and so does a path with
// an empty segment (//) that a mounted handler matches, which http.ServeMux
// would otherwise redirect to its cleaned form.
//
// # Bodies
//
// The gateway reads the whole request body before it calls the object, up to
// Config.MaxBodyBytes, so the object's turn starts only once the bytes are
// in memory: a slow or stalled client cannot hold up the other callers of
// the same object. A body over the limit is answered with 413 body_too_large
// and never reaches the object. The buffer grows with the bytes that arrive,
// never ahead of them by a declared Content-Length. The object's response is
// complete when Fetch returns it (its writes are already durable); the
// gateway streams it out.
//
// Every request body, on every route, must arrive within Config.BodyTimeout
// of the end of its headers (a deadline on the client's connection, cleared
// at the end of the body): past it the read fails with 408 request_timeout
// and the connection closes. So a client that declares a large body and
// sends little holds its connection for BodyTimeout at most. Requests
// without a body are not timed, so long polls and WebSocket upgrades are
// not cut off; an upload that goes to disk as it arrives may take longer
// while it progresses ([StreamBody]).
package gateway
