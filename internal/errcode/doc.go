// Package errcode holds Roost's stable error codes and the one table that maps
// errors to them and codes to HTTP statuses.
//
// It is a leaf: it imports only the standard library. Packages above it either
// return errors that carry a code themselves (any error with an
// ErrorCode() string method) or register their sentinels with [Register], so
// that [Of] can name the code of any error chain. The gateway writes
// {"error":{"code":"…","message":"…"}} from [Of] and [Status], which makes the
// table below the reference for Roost's HTTP API.
package errcode
