// Package counter is Roost's smallest object class: a durable counter kept in
// its object's SQL table. `roost serve` registers it as the class "counter":
//
//	POST /counter/{name}/increment  → {"value":N}  (one durable SQL write)
//	GET  /counter/{name}            → {"value":N}
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
}

// New is the class constructor: it makes sure the table exists before any
// request is handled.
func New(st *roost.State) (*Counter, error) {
	err := st.BlockConcurrencyWhile(st.Context(), func(ctx context.Context) error {
		_, err := st.Storage().Exec(ctx, `CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)`)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Counter{st: st}, nil
}

// Register registers the class under name on app.
func Register(app *roost.App, name string) *roost.Namespace {
	return roost.Register(app, name, New)
}

// Fetch serves the counter's routes.
func (c *Counter) Fetch(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	switch {
	case r.URL.Path == "/increment" && r.Method == http.MethodPost:
		var v int64
		err := c.st.Storage().QueryRow(ctx, `INSERT INTO counter (id, value) VALUES (1, 1)
			ON CONFLICT (id) DO UPDATE SET value = value + 1 RETURNING value`).Scan(&v)
		if err != nil {
			return err
		}
		return writeValue(w, v)
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		var v int64
		err := c.st.Storage().QueryRow(ctx, `SELECT value FROM counter WHERE id = 1`).Scan(&v)
		if err != nil && !errors.Is(err, roost.ErrNoRows) {
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
