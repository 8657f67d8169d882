package roost_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	"github.com/roost-dev/roost"
)

func ExampleRegister() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "roost-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	app, err := roost.Open(ctx, roost.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close(ctx)

	// A class is a constructor. Each object gets its own State, and here is
	// an http.Handler: every request it handles is one event, and the
	// object's events take turns.
	counters := roost.Register(app, "counter", func(st *roost.State) (http.HandlerFunc, error) {
		return func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			n, _, err := roost.GetJSON[int](ctx, st.Storage(), "n")
			if err == nil {
				n++
				err = roost.PutJSON(ctx, st.Storage(), "n", n)
			}
			if err != nil {
				roost.WriteError(w, err)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]int{"value": n})
		}, nil
	})

	// A stub reaches one object. Its response comes once the event's writes
	// are durable.
	stub := counters.Get(counters.IDFromName("room-42"))
	for range 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/increment", nil)
		if err != nil {
			log.Fatal(err)
		}
		resp, err := stub.Fetch(ctx, req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(resp.StatusCode, " ", string(body))
	}
	// Output:
	// 200 {"value":1}
	// 200 {"value":2}
}

func ExampleStorage_List() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "roost-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	app, err := roost.Open(ctx, roost.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close(ctx)

	rooms := roost.Register(app, "room", func(st *roost.State) (http.HandlerFunc, error) {
		return func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			s := st.Storage()
			for _, k := range []string{"msg:001", "msg:002", "msg:003", "topic"} {
				if err := s.Put(ctx, k, []byte("value of "+k)); err != nil {
					roost.WriteError(w, err)
					return
				}
			}
			// The two newest messages: keys with the prefix, in descending
			// byte order.
			entries, err := s.List(ctx, &roost.ListOptions{Prefix: "msg:", Reverse: true, Limit: 2})
			if err != nil {
				roost.WriteError(w, err)
				return
			}
			for _, e := range entries {
				fmt.Fprintf(w, "%s = %s\n", e.Key, e.Value)
			}
		}, nil
	})

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := rooms.Get(rooms.IDFromName("lobby")).Fetch(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
	// Output:
	// msg:003 = value of msg:003
	// msg:002 = value of msg:002
}

func ExampleGetJSON() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "roost-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	app, err := roost.Open(ctx, roost.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close(ctx)

	type Profile struct {
		Name   string `json:"name"`
		Visits int    `json:"visits"`
	}
	users := roost.Register(app, "user", func(st *roost.State) (http.HandlerFunc, error) {
		return func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			p, found, err := roost.GetJSON[Profile](ctx, st.Storage(), "profile")
			if err != nil {
				roost.WriteError(w, err)
				return
			}
			if !found {
				p.Name = r.URL.Query().Get("name")
			}
			p.Visits++
			if err := roost.PutJSON(ctx, st.Storage(), "profile", p); err != nil {
				roost.WriteError(w, err)
				return
			}
			fmt.Fprintf(w, "found: %v, profile: %+v\n", found, p)
		}, nil
	})

	stub := users.Get(users.IDFromName("ada"))
	for range 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/visit?name=Ada", nil)
		if err != nil {
			log.Fatal(err)
		}
		resp, err := stub.Fetch(ctx, req)
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(os.Stdout, resp.Body)
		resp.Body.Close()
	}
	// Output:
	// found: false, profile: {Name:Ada Visits:1}
	// found: true, profile: {Name:Ada Visits:2}
}
