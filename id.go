package roost

import (
	"github.com/roost-dev/roost/internal/ids"
)

// ID identifies an object within its class: 32 bytes, shown as 64 lowercase
// hex characters. Get one from [Namespace.IDFromName] (deterministic: the same
// name gives the same ID on every node and after every restart),
// [Namespace.NewUniqueID] (random) or [Namespace.IDFromString] (strict
// parsing). Only a validated ID ever becomes part of a file path.
type ID = ids.ID
