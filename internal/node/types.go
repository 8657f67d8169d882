package node

import (
	"net/http"

	"github.com/roost-dev/roost/internal/gateway"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/sockets"
	"github.com/roost-dev/roost/internal/store"
)

// Types and errors of the engine's packages that the root package
// re-exports under the product's names: the root imports this package and
// the leaves only.
type (
	DB          = store.DB
	Entry       = store.Entry
	ListOptions = store.ListOptions
	Rows        = store.Rows
	Result      = store.Result
	LimitError  = store.LimitError
	Timer       = store.Timer
	Faults      = store.Faults
	Socket      = sockets.Socket
)

// Sync is the durability of commits: "full" (the default, also for "") or
// "normal".
type Sync = store.Sync

// Errors of the engine, each with its code.
var (
	ErrUnknownClass = runtime.ErrUnknownClass
	ErrClosed       = store.ErrClosed
	ErrOverloaded   = runtime.ErrOverloaded
	ErrShuttingDown = runtime.ErrShuttingDown
)

// WriteError writes err as Roost's JSON error with the HTTP status of its
// code.
func WriteError(w http.ResponseWriter, err error) { gateway.WriteError(w, err) }
