// Package errcode holds Roost's stable error codes and the one table that maps
// errors to them and codes to HTTP statuses.
//
// It is a leaf: it imports only the standard library. Every error that has a
// code carries it: an [*Error], or any error with an ErrorCode() string
// method (the leaves' errors, which cannot import this package). Each
// package defines its own errors with their codes, and [Of] names the code
// of any error chain by the first such error in it. The gateway writes
// {"error":{"code":"…","message":"…"}} from [Of] and [Status], which makes the
// table below the reference for Roost's HTTP API.
package errcode
