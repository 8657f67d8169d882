package roost_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/roost-dev/roost"
)

// benchRoutes read or durably write one key.
var benchRoutes = map[string]route{
	"/read": func(o *obj, w http.ResponseWriter, r *http.Request) error {
		_, _, err := o.st.Storage().Get(r.Context(), "k")
		return err
	},
	"/write": func(o *obj, w http.ResponseWriter, r *http.Request) error {
		o.n++
		return o.st.Storage().Put(r.Context(), "k", strconv.AppendInt(nil, int64(o.n), 10))
	},
}

// fetchOK sends req through stub and fails the benchmark unless the object
// answered 200.
func fetchOK(b *testing.B, stub *roost.Stub, req *http.Request) {
	b.Helper()
	resp, err := stub.Fetch(req.Context(), req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// BenchmarkStub_Fetch is one in-process event on an object in memory: a read,
// or a durable write (one commit with fsync per event, as nothing else is
// queued to share it).
func BenchmarkStub_Fetch(b *testing.B) {
	for _, write := range []bool{false, true} {
		b.Run(fmt.Sprintf("write=%v", write), func(b *testing.B) {
			app := newApp(b, roost.Config{})
			c := registerObj(app, "bench", benchRoutes)
			stub := c.Get(c.IDFromName("x"))
			path := "/read"
			if write {
				path = "/write"
			}
			req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, path, nil)
			if err != nil {
				b.Fatal(err)
			}
			// Activate the object and create its file first.
			warm, _ := http.NewRequestWithContext(b.Context(), http.MethodPost, "/write", nil)
			fetchOK(b, stub, warm)
			b.ReportAllocs()
			for b.Loop() {
				fetchOK(b, stub, req)
			}
		})
	}
}

// BenchmarkGateway_CounterIncrement is POST /counter/{name}/increment over
// loopback HTTP from many clients: all on one object (its events share
// commits) or each on its own.
func BenchmarkGateway_CounterIncrement(b *testing.B) {
	for _, shared := range []bool{true, false} {
		name := "objects=one"
		if !shared {
			name = "objects=per-client"
		}
		b.Run(name, func(b *testing.B) {
			app := newApp(b, roost.Config{})
			registerCounter(app, "counter")
			srv := serve(b, app)
			tr := &http.Transport{MaxIdleConnsPerHost: 256}
			b.Cleanup(tr.CloseIdleConnections)
			client := &http.Client{Transport: tr}
			var clients atomic.Int64
			b.SetParallelism(8) // 8 × GOMAXPROCS clients
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				url := srv.URL + "/counter/shared/increment"
				if !shared {
					url = srv.URL + "/counter/c" + strconv.FormatInt(clients.Add(1), 10) + "/increment"
				}
				for pb.Next() {
					res, err := send(b.Context(), client, http.MethodPost, url, "")
					if err != nil {
						b.Error(err)
						return
					}
					if res.status != http.StatusOK {
						b.Errorf("status %d: %s", res.status, res.body)
						return
					}
				}
			})
		})
	}
}

// BenchmarkActivation_NewObject is the first event of a new object: it
// activates the object, runs its constructor and creates its database file
// with its first durable write.
func BenchmarkActivation_NewObject(b *testing.B) {
	app := newApp(b, roost.Config{})
	c := registerObj(app, "fresh", benchRoutes)
	req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, "/write", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		fetchOK(b, c.Get(c.NewUniqueID()), req)
	}
}
