// Package counter is Roost's smallest object class: a durable counter kept in
// its object's SQL table. `roost serve` registers it as the class "counter":
//
//	POST /counter/{name}/increment  → {"value":N}  (one durable SQL write)
//	GET  /counter/{name}            → {"value":N}
//
// and the RPC methods [Add] and [Get], from Go or over HTTP:
//
//	POST /counter/{name}/rpc/add {"by":N} → {"value":N}
//	POST /counter/{name}/rpc/get          → {"value":N}
package counter

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/roost-dev/roost"
)

// Counter is one counter object.
type Counter struct {
	st *roost.State
	// table is set once the counter's table is known to exist in this
	// activation: the first write creates it, so that reading a counter
	// that was never written creates no storage.
	table bool
}

// New is the class constructor.
func New(st *roost.State) (*Counter, error) { return &Counter{st: st}, nil }

// Register registers the class under name on app, with its methods.
func Register(app *roost.App, name string) *roost.Namespace {
	return roost.RegisterWithOptions(app, name, New, &roost.ClassOptions{Methods: []roost.MethodHandler{Add, Get}})
}

// Add adds to the counter and answers its new value; Get answers it.
var (
	Add = roost.NewMethod("add", (*Counter).Add)
	Get = roost.NewMethod("get", (*Counter).Get)
)

// AddRequest is the argument of [Add].
type AddRequest struct {
	By int64 `json:"by"`
}

// Value is a counter's value.
type Value struct {
	Value int64 `json:"value"`
}

// Add adds req.By (which may be negative) in one durable SQL write.
func (c *Counter) Add(ctx context.Context, req AddRequest) (Value, error) {
	v, err := c.add(ctx, req.By)
	return Value{v}, err
}

// Get answers the counter's value: 0 before its first write.
func (c *Counter) Get(ctx context.Context, _ struct{}) (Value, error) {
	v, err := c.value(ctx)
	return Value{v}, err
}

func (c *Counter) add(ctx context.Context, by int64) (int64, error) {
	if !c.table {
		if _, err := c.st.Storage().Exec(ctx, `CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)`); err != nil {
			return 0, err
		}
		c.table = true
	}
	var v int64
	err := c.st.Storage().QueryRow(ctx, `INSERT INTO counter (id, value) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET value = value + excluded.value RETURNING value`, by).Scan(&v)
	return v, err
}

func (c *Counter) value(ctx context.Context) (int64, error) {
	if !c.table {
		ok, err := c.st.Storage().HasTable(ctx, "counter")
		if err != nil || !ok {
			return 0, err // never written
		}
		c.table = true
	}
	var v int64
	err := c.st.Storage().QueryRow(ctx, `SELECT value FROM counter WHERE id = 1`).Scan(&v)
	if errors.Is(err, roost.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// Fetch serves the counter's routes.
func (c *Counter) Fetch(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	switch {
	case r.URL.Path == "/increment" && r.Method == http.MethodPost:
		v, err := c.add(ctx, 1)
		if err != nil {
			return err
		}
		return writeValue(w, v)
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		v, err := c.value(ctx)
		if err != nil {
			return err
		}
		return writeValue(w, v)
	case r.URL.Path == "/increment" || r.URL.Path == "/":
		w.Header().Set("Allow", map[string]string{"/increment": "POST", "/": "GET"}[r.URL.Path])
		roost.WriteError(w, roost.NewError("method_not_allowed", "method "+r.Method+" not allowed on "+r.URL.Path))
		return nil
	}
	roost.WriteError(w, roost.NewError("not_found", "no route "+r.URL.Path+" on counter (use POST /increment or GET /)"))
	return nil
}

func writeValue(w http.ResponseWriter, v int64) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]int64{"value": v})
}
