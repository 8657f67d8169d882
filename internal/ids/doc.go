// Package ids holds the object identifier, [ID], and the rules for class
// names.
//
// It is a leaf of Roost's architecture: it imports only the standard library,
// and every other layer (store, runtime, gateway, cluster) depends on it. The
// root package re-exports [ID] as roost.ID with the user-facing documentation.
//
// An ID is 32 bytes, written as 64 lowercase hexadecimal characters. It is
// either derived from a class and a name with [FromName], which gives the same
// ID on every process and machine, or drawn at random with [New]. [Parse] is
// the only way client bytes become an ID, and it is strict: there is exactly
// one text form for each ID, so IDs can be compared as strings and used as
// file names and routing keys without normalisation.
package ids
