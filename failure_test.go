package roost_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/roost-dev/roost"
)

// failingRoutes are the routes of an object whose /fail writes and then
// fails with fail.
func failingRoutes(fail func() error) map[string]route {
	return map[string]route{
		"/put": func(o *obj, w http.ResponseWriter, r *http.Request) error {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return err
			}
			return o.st.Storage().Put(r.Context(), "k", b)
		},
		"/fail": func(o *obj, w http.ResponseWriter, r *http.Request) error {
			st := o.st.Storage()
			if err := st.Put(r.Context(), "k", []byte("uncommitted")); err != nil {
				return err
			}
			if err := st.Put(r.Context(), "other", []byte("uncommitted")); err != nil {
				return err
			}
			w.Write([]byte("this reply is never sent"))
			return fail()
		},
		"/get": func(o *obj, w http.ResponseWriter, r *http.Request) error {
			got, err := o.st.Storage().GetMany(r.Context(), []string{"k", "other"})
			if err != nil {
				return err
			}
			return json.NewEncoder(w).Encode(map[string]any{"k": string(got["k"]), "other": got["other"] != nil, "gen": o.gen})
		},
	}
}

func TestFailure_PanicRollsBackAndResets(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	srv := serve(t, app)
	tests := []struct {
		name       string
		fail       func() error
		wantStatus int
		wantCode   string
	}{
		{"panic", func() error { panic("boom") }, http.StatusInternalServerError, "handler_panic"},
		{"error", func() error { return errors.New("boom") }, http.StatusInternalServerError, "handler_error"},
		{"wrapped-error", func() error { return fmt.Errorf("step: %w", io.ErrUnexpectedEOF) }, http.StatusInternalServerError, "handler_error"},
		{"coded-error", func() error { return roost.NewError("teapot_code", "I am a teapot") }, http.StatusInternalServerError, "teapot_code"},
		{"wrapped-coded-error", func() error {
			return fmt.Errorf("step: %w", roost.NewError("not_found", "no such thing"))
		}, http.StatusNotFound, "not_found"},
	}
	for _, tt := range tests {
		c := registerObj(app, "fail-"+tt.name, failingRoutes(tt.fail))
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := "/" + c.Class() + "/x"
			get := func(wantGen int64) {
				t.Helper()
				res := do(t, srv, http.MethodGet, path+"/get", "")
				var got struct {
					K     string
					Other bool
					Gen   int64
				}
				if err := json.Unmarshal([]byte(res.body), &got); err != nil || res.status != http.StatusOK {
					t.Fatalf("get: %d %s (%v)", res.status, res.body, err)
				}
				if got.K != "committed" || got.Other {
					t.Errorf("after the failed event: k = %q, other stored = %v; want the committed value only", got.K, got.Other)
				}
				if got.Gen != wantGen || c.constructs.Load() != wantGen {
					t.Errorf("instance %d, constructor runs %d; want %d (a new instance after each failure)", got.Gen, c.constructs.Load(), wantGen)
				}
			}
			if res := do(t, srv, http.MethodPost, path+"/put", "committed"); res.status != http.StatusOK {
				t.Fatalf("put: %d %s", res.status, res.body)
			}

			// In process: the error carries the code.
			_, err := fetch(t.Context(), c.Get(c.IDFromName("x")), http.MethodPost, "/fail", "")
			wantCode(t, err, tt.wantCode)
			get(2)

			// Through the gateway: a JSON error with the code's status.
			res := do(t, srv, http.MethodPost, path+"/fail", "")
			wantError(t, res, tt.wantStatus, tt.wantCode)
			if strings.Contains(res.body, "never sent") {
				t.Errorf("the failed event's reply leaked: %s", res.body)
			}
			get(3)
		})
	}
}

func TestFailure_BatchFailureIsolated(t *testing.T) {
	t.Parallel()
	const events = 200
	app := newApp(t, roost.Config{})
	c := registerObj(app, "batch", nil)
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		_, err := o.st.Storage().Exec(ctx, `CREATE TABLE t (i INTEGER PRIMARY KEY)`)
		return err
	})
	var wg sync.WaitGroup
	errs := make([]error, events)
	for i := range events {
		wg.Go(func() {
			errs[i] = c.run(t.Context(), "x", func(ctx context.Context, o *obj) error {
				if _, err := o.st.Storage().Exec(ctx, `INSERT INTO t (i) VALUES (?)`, i); err != nil {
					return err
				}
				if i%5 == 0 {
					return fmt.Errorf("event %d fails", i)
				}
				return nil
			})
		})
	}
	wg.Wait()
	var want []int
	for i, err := range errs {
		switch {
		case i%5 == 0 && roost.ErrorCode(err) != "handler_error":
			t.Errorf("event %d: error %v (code %s), want code handler_error", i, err, roost.ErrorCode(err))
		case i%5 != 0 && err != nil:
			t.Errorf("event %d: %v", i, err)
		case i%5 != 0:
			want = append(want, i)
		}
	}
	var got []int
	c.mustRun(t, "x", func(ctx context.Context, o *obj) error {
		rows, err := o.st.Storage().Query(ctx, `SELECT i FROM t ORDER BY i`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var i int
			if err := rows.Scan(&i); err != nil {
				return err
			}
			got = append(got, i)
		}
		return rows.Err()
	})
	if !slices.Equal(got, want) {
		t.Errorf("stored %d rows, want the %d of the successful events\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	if n := c.constructs.Load(); n != events/5+1 {
		t.Errorf("constructor ran %d times, want %d (once, then after each of the %d failures)", n, events/5+1, events/5)
	}
}
