package roost_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/admin"
	"github.com/roost-dev/roost/internal/errcode"
)

// adminServer serves app's gateway with the admin API mounted (no token),
// and returns the server and an admin client of it.
func adminServer(t testing.TB, app *testApp) (*httptest.Server, *admin.Client) {
	t.Helper()
	app.Handle("/_roost/", app.AdminHandler(""))
	srv := serve(t, app)
	c, err := admin.NewClient(srv.URL, "", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// exportFile exports the object into a new file beneath dir and returns
// its path.
func exportFile(t testing.TB, c *admin.Client, ref admin.Ref, dir string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "export-*.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := c.Export(t.Context(), ref, f); err != nil {
		t.Fatalf("export %s: %v", ref, err)
	}
	return f.Name()
}

// wantErrCode fails the test unless err is the server's error with code.
func wantErrCode(t testing.TB, err error, code errcode.Code) {
	t.Helper()
	ce, ok := errors.AsType[*errcode.Error](err)
	if !ok || ce.Code != code {
		t.Fatalf("got error %v, want code %s", err, code)
	}
}

func counterRef(name string) admin.Ref { return admin.Ref{Class: "counter", Name: name} }

func TestAdmin_ExportOfBusyObjectIsConsistent(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	registerCounter(app, "counter")
	srv, c := adminServer(t, app)
	do(t, srv, http.MethodPost, "/counter/busy/increment", "")

	// Writers increment the counter until the exports are done; acked is
	// the highest value a writer has seen acknowledged.
	var acked atomic.Int64
	progress := make(chan struct{}, 1)
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				res, err := send(ctx, srv.Client(), http.MethodPost, srv.URL+"/counter/busy/increment", "")
				if ctx.Err() != nil {
					return
				}
				var v int64
				if _, serr := fmt.Sscanf(res.body, `{"value":%d}`, &v); err != nil || serr != nil {
					t.Errorf("increment: %d %q, %v", res.status, res.body, err)
					return
				}
				for old := acked.Load(); v > old && !acked.CompareAndSwap(old, v); old = acked.Load() {
				}
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		})
	}
	t.Cleanup(func() { stop(); wg.Wait() })

	dir := t.TempDir()
	for i := range 5 {
		// Let the writers move the counter on before each export.
		for mark := acked.Load(); acked.Load() < mark+5; {
			select {
			case <-progress:
			case <-time.After(waitTimeout):
				t.Fatal("the writers made no progress")
			}
		}
		before := acked.Load()
		file := exportFile(t, c, counterRef("busy"), dir)
		after := counterValue(t, do(t, srv, http.MethodGet, "/counter/busy", ""))
		out := roost.SQLite3(t, file, "PRAGMA integrity_check; PRAGMA journal_mode; SELECT value FROM counter")
		lines := strings.Split(out, "\n")
		if len(lines) != 3 || lines[0] != "ok" || lines[1] != "delete" {
			t.Fatalf("export %d: integrity_check, journal_mode, value = %q", i, out)
		}
		v, err := strconv.ParseInt(lines[2], 10, 64)
		if err != nil || v < before || v > after {
			t.Fatalf("export %d: counter %q, want between %d (acknowledged before) and %d (read after)", i, lines[2], before, after)
		}
	}
	stop()
	wg.Wait()
}

func TestAdmin_ImportIntoNewObjectServesItsData(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	registerCounter(app, "counter")
	srv, c := adminServer(t, app)
	for range 7 {
		do(t, srv, http.MethodPost, "/counter/src/increment", "")
	}
	file := exportFile(t, c, counterRef("src"), t.TempDir())

	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := c.Import(t.Context(), counterRef("copy"), f, false); err != nil {
		t.Fatalf("import into a new object: %v", err)
	}
	if v := counterValue(t, do(t, srv, http.MethodGet, "/counter/copy", "")); v != 7 {
		t.Fatalf("imported counter = %d, want 7", v)
	}
	if v := counterValue(t, do(t, srv, http.MethodPost, "/counter/copy/increment", "")); v != 8 {
		t.Fatalf("imported counter after an increment = %d, want 8", v)
	}
	page, err := c.List(t.Context(), admin.ListOptions{Class: "counter"})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(page.Objects, func(o admin.Object) bool { return o.Name == "copy" })
	if i < 0 || page.Objects[i].Size == 0 {
		t.Fatalf("listing after import: %+v, want the object named copy with its size", page.Objects)
	}
}

func TestAdmin_ImportRefusesToOverwriteWithoutForce(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	registerCounter(app, "counter")
	srv, c := adminServer(t, app)
	for range 3 {
		do(t, srv, http.MethodPost, "/counter/a/increment", "")
	}
	do(t, srv, http.MethodPost, "/counter/b/increment", "")
	fileA, err := os.ReadFile(exportFile(t, c, counterRef("a"), t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}

	res := do(t, srv, http.MethodPut, "/_roost/objects/counter/b/import", string(fileA))
	wantError(t, res, http.StatusConflict, "conflict")
	if v := counterValue(t, do(t, srv, http.MethodGet, "/counter/b", "")); v != 1 {
		t.Fatalf("counter b after a refused import = %d, want 1", v)
	}

	res = do(t, srv, http.MethodPut, "/_roost/objects/counter/fresh/import", "not a database, not at all")
	wantError(t, res, http.StatusBadRequest, "bad_request")
	res = do(t, srv, http.MethodPut, "/_roost/objects/counter/b/import?force=1", "not a database, not at all")
	wantError(t, res, http.StatusBadRequest, "bad_request")
	if v := counterValue(t, do(t, srv, http.MethodGet, "/counter/b", "")); v != 1 {
		t.Fatalf("counter b after a bad import = %d, want 1", v)
	}
	if files := dbFiles(t, app.Dir); len(files) != 2 {
		t.Fatalf("files after bad imports: %v, want a's and b's", files)
	}
	page, err := c.List(t.Context(), admin.ListOptions{})
	if err != nil || len(page.Objects) != 2 {
		t.Fatalf("listing after bad imports: %+v, %v; want a and b", page, err)
	}

	if err := c.Import(t.Context(), counterRef("b"), bytes.NewReader(fileA), true); err != nil {
		t.Fatalf("import with force: %v", err)
	}
	if v := counterValue(t, do(t, srv, http.MethodGet, "/counter/b", "")); v != 3 {
		t.Fatalf("counter b after a forced import = %d, want 3", v)
	}
}

func TestAdmin_ImportOverTheSizeLimitIsRefused(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{MaxDatabaseSize: 64 << 10})
	registerCounter(app, "counter")
	_, c := adminServer(t, app)
	big := make([]byte, 65<<10)
	copy(big, "SQLite format 3\x00\x10\x00") // a database's header (4096-byte pages) is read first
	err := c.Import(t.Context(), counterRef("big"), bytes.NewReader(big), false)
	wantErrCode(t, err, errcode.LimitExceeded)
	if files := dbFiles(t, app.Dir); len(files) != 0 {
		t.Fatalf("files after a refused import: %v", files)
	}
}

func TestAdmin_ImportSchedulesTheFilesAlarm(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	tc := registerTimers(app, "alarms")
	_, c := adminServer(t, app)
	tc.mustRun(t, "src", setAlarm(epoch.Add(time.Hour)))
	file := exportFile(t, c, admin.Ref{Class: "alarms", Name: "src"}, t.TempDir())
	tc.mustRun(t, "src", func(ctx context.Context, o *timerObj) error { return o.st.Storage().DeleteAlarm(ctx) })

	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := c.Import(t.Context(), admin.Ref{Class: "alarms", Name: "dst"}, f, false); err != nil {
		t.Fatal(err)
	}
	waitScheduled(t, app)
	app.Clock.Advance(time.Hour)
	if r := tc.next(t); r.Object != tc.IDFromName("dst").String() || r.Kind != "alarm" {
		t.Fatalf("ran %+v, want the imported alarm of dst", r)
	}
	tc.none(t)
}

func TestAdmin_SQLIsReadOnlyUnlessWrite(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	registerCounter(app, "counter")
	srv, c := adminServer(t, app)
	do(t, srv, http.MethodPost, "/counter/s/increment", "")

	_, err := c.SQL(t.Context(), counterRef("s"), admin.Query{Query: "UPDATE counter SET value = 100"})
	wantErrCode(t, err, errcode.ReadOnly)
	res := do(t, srv, http.MethodPost, "/_roost/objects/counter/s/sql", `{"query":"INSERT INTO counter VALUES (2, 2)"}`)
	wantError(t, res, http.StatusBadRequest, "bad_request") // not sent as JSON

	res2, err := c.SQL(t.Context(), counterRef("s"), admin.Query{Query: "UPDATE counter SET value = ?", Args: []any{100}, Write: true})
	if err != nil || res2.RowsAffected != 1 {
		t.Fatalf("write: %+v, %v; want 1 row changed", res2, err)
	}
	// The instance was reset: the object serves the new value.
	if v := counterValue(t, do(t, srv, http.MethodPost, "/counter/s/increment", "")); v != 101 {
		t.Fatalf("counter after the admin write and an increment = %d, want 101", v)
	}
	got, err := c.SQL(t.Context(), counterRef("s"), admin.Query{Query: "SELECT id, value, x'00ff', NULL, 1.5 FROM counter"})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{int64(1), int64(101), []byte{0, 0xff}, nil, 1.5}
	if len(got.Rows) != 1 || fmt.Sprint(got.Rows[0]) != fmt.Sprint(want) || len(got.Columns) != 5 {
		t.Fatalf("rows %#v, want %#v", got.Rows, want)
	}
	_, err = c.SQL(t.Context(), counterRef("s"), admin.Query{Query: "SELECT * FROM _roost_kv"})
	wantErrCode(t, err, errcode.SQLNotAuthorized)
	_, err = c.SQL(t.Context(), counterRef("never"), admin.Query{Query: "SELECT 1"})
	wantErrCode(t, err, errcode.NotFound)
}

func TestAdmin_InspectShowsKVTablesAndTimers(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	tc := registerTimers(app, "timers")
	_, c := adminServer(t, app)
	long := strings.Repeat("é", 1000) // 2000 bytes
	tc.mustRun(t, "x", func(ctx context.Context, o *timerObj) error {
		s := o.st.Storage()
		for k, v := range map[string][]byte{"a": []byte("text"), "b": {0, 1, 0xff}, "c": []byte(long), "d/1": nil, "d/2": nil, "d/3": nil} {
			if err := s.Put(ctx, k, v); err != nil {
				return err
			}
		}
		if _, err := s.Exec(ctx, "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2); CREATE INDEX t_x ON t (x)"); err != nil {
			return err
		}
		if err := s.SetAlarm(ctx, epoch.Add(time.Minute)); err != nil {
			return err
		}
		if err := s.Schedule(ctx, "once", epoch.Add(2*time.Minute), []byte("payload")); err != nil {
			return err
		}
		return s.Cron(ctx, "tick", "@hourly", nil)
	})
	ref := admin.Ref{Class: "timers", Name: "x"}

	in, err := c.Inspect(t.Context(), ref, admin.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if in.Object.Name != "x" || in.Object.ID != tc.IDFromName("x") || in.Object.Size == 0 || in.Object.Timers != 3 ||
		!in.Object.NextWake.Equal(epoch.Add(time.Minute)) {
		t.Errorf("object %+v", in.Object)
	}
	if len(in.KV) != 6 || in.KVNext != "" {
		t.Fatalf("KV %+v, next %q; want 6 pairs", in.KV, in.KVNext)
	}
	a, b, cc := in.KV[0], in.KV[1], in.KV[2]
	if *a.Value != "text" || a.Encoding != "utf8" || a.Truncated ||
		*b.Value != "AAH/" || b.Encoding != "base64" || b.Size != 3 ||
		*cc.Value != long[:1024] || !cc.Truncated || cc.Size != 2000 {
		t.Errorf("values: %+v %+v %+v (%q)", a, b, cc, *cc.Value)
	}
	if len(in.Tables) != 2 || in.Tables[0].Name != "t" || in.Tables[0].Rows != 2 || in.Tables[1].Type != "index" {
		t.Errorf("tables %+v", in.Tables)
	}
	if len(in.Timers) != 3 || in.Timers[0].Kind != "alarm" || in.Timers[0].Name != "" ||
		in.Timers[1].Name != "once" || in.Timers[1].PayloadSize != 7 || in.Timers[2].Kind != "cron" || in.Timers[2].Spec != "@hourly" {
		t.Errorf("timers %+v", in.Timers)
	}

	// Keys only, by prefix, a page at a time.
	var keys []string
	o := admin.InspectOptions{KeysOnly: true, Prefix: "d/", Limit: 2}
	for {
		in, err := c.Inspect(t.Context(), ref, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range in.KV {
			if kv.Value != nil {
				t.Errorf("keys-only listing has a value for %q", kv.Key)
			}
			keys = append(keys, kv.Key)
		}
		if o.Cursor = in.KVNext; o.Cursor == "" {
			break
		}
	}
	if fmt.Sprint(keys) != "[d/1 d/2 d/3]" {
		t.Fatalf("keys by pages of 2 = %v", keys)
	}
	in, err = c.Inspect(t.Context(), ref, admin.InspectOptions{ValueBytes: -1, Start: "c", Limit: 1})
	if err != nil || len(in.KV) != 1 || *in.KV[0].Value != long || in.KV[0].Truncated || in.KVNext == "" {
		t.Fatalf("whole value from c: %+v, %v", in, err)
	}
}

func TestAdmin_RemoveDeletesEverythingAndTheAlarmNeverFires(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	tc := registerTimers(app, "alarms")
	srv, c := adminServer(t, app)
	tc.mustRun(t, "gone", setAlarm(epoch.Add(time.Minute)))
	tc.mustRun(t, "kept", setAlarm(epoch.Add(2*time.Minute)))
	ref := admin.Ref{Class: "alarms", Name: "gone"}

	res := do(t, srv, http.MethodDelete, "/_roost/objects/alarms/gone", "")
	if res.status != http.StatusNoContent {
		t.Fatalf("DELETE answered %d: %s", res.status, res.body)
	}
	if files := dbFiles(t, app.Dir); len(files) != 1 {
		t.Fatalf("files after rm: %v, want kept's only", files)
	}
	page, err := c.List(t.Context(), admin.ListOptions{})
	if err != nil || len(page.Objects) != 1 || page.Objects[0].Name != "kept" {
		t.Fatalf("listing after rm: %+v, %v", page, err)
	}
	_, err = c.Inspect(t.Context(), ref, admin.InspectOptions{})
	wantErrCode(t, err, errcode.NotFound)
	wantErrCode(t, c.Remove(t.Context(), ref), errcode.NotFound)

	waitScheduled(t, app)
	app.Clock.Advance(time.Hour)
	if r := tc.next(t); r.Object != tc.IDFromName("kept").String() {
		t.Fatalf("ran %+v, want kept's alarm only", r)
	}
	tc.none(t)
}

func TestAdmin_ListPagesThroughEveryObjectInEachSort(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	ns, _ := registerCounter(app, "counter")
	srv, c := adminServer(t, app)
	const n = 250
	names := map[string]bool{}
	for i := range n {
		name := fmt.Sprintf("n%03d", i)
		names[name] = true
		for range 1 + i%3 { // vary the sizes; a counter never written is no object
			do(t, srv, http.MethodPost, "/counter/"+name+"/increment", "")
		}
		if i%3 == 0 {
			do(t, srv, http.MethodGet, "/counter/"+name, "")
		}
		if i%50 == 0 {
			app.Clock.Advance(time.Second) // vary the activity
		}
	}
	for _, sort := range []string{admin.SortKey, admin.SortSize, admin.SortActive, admin.SortCreated} {
		t.Run("sort="+sort, func(t *testing.T) {
			var all []admin.Object
			o := admin.ListOptions{Class: "counter", Sort: sort, Limit: 100}
			for pages := 1; ; pages++ {
				page, err := c.List(t.Context(), o)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Objects) > 100 || pages > 3 {
					t.Fatalf("page %d has %d objects", pages, len(page.Objects))
				}
				all = append(all, page.Objects...)
				if o.Cursor = page.Next; o.Cursor == "" {
					break
				}
			}
			seen := map[string]bool{}
			for i, obj := range all {
				if !names[obj.Name] || seen[obj.Name] || obj.ID != ns.IDFromName(obj.Name) {
					t.Fatalf("object %d: %+v: unknown, repeated or with the wrong ID", i, obj)
				}
				seen[obj.Name] = true
				if i > 0 && !inOrder(sort, all[i-1], obj) {
					t.Fatalf("objects %d and %d out of %s order: %+v, %+v", i-1, i, sort, all[i-1], obj)
				}
			}
			if len(seen) != n {
				t.Fatalf("listed %d objects, want %d", len(seen), n)
			}
		})
	}
}

// inOrder reports whether a may come before b in the order of sort.
func inOrder(sort string, a, b admin.Object) bool {
	var va, vb int64
	switch sort {
	case admin.SortSize:
		va, vb = a.Size, b.Size
	case admin.SortActive:
		va, vb = a.LastActive.UnixMilli(), b.LastActive.UnixMilli()
	case admin.SortCreated:
		va, vb = a.Created.UnixMilli(), b.Created.UnixMilli()
	}
	if va != vb {
		return va > vb
	}
	return a.Class < b.Class || a.Class == b.Class && a.ID.String() < b.ID.String()
}

func TestAdmin_RefusesUnknownClassesAndBadIDs(t *testing.T) {
	t.Parallel()
	app := newApp(t, roost.Config{})
	registerCounter(app, "counter")
	srv, c := adminServer(t, app)
	for _, tc := range []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"inspect unknown class", http.MethodGet, "/_roost/objects/nope/x", 404, "unknown_class"},
		{"list unknown class", http.MethodGet, "/_roost/objects?class=nope", 404, "unknown_class"},
		{"export unknown class", http.MethodGet, "/_roost/objects/nope/x/export", 404, "unknown_class"},
		{"bad id", http.MethodGet, "/_roost/objects/counter/id/xyz", 400, "invalid_id"},
		{"uppercase id", http.MethodGet, "/_roost/objects/counter/id/" + strings.Repeat("A", 64), 400, "invalid_id"},
		{"bad sort", http.MethodGet, "/_roost/objects?sort=color", 400, "bad_request"},
		{"bad cursor", http.MethodGet, "/_roost/objects?cursor=zzz", 400, "bad_request"},
		{"bad limit", http.MethodGet, "/_roost/objects?limit=many", 400, "bad_request"},
		{"no storage", http.MethodGet, "/_roost/objects/counter/nobody", 404, "not_found"},
		{"export no storage", http.MethodGet, "/_roost/objects/counter/nobody/export", 404, "not_found"},
		{"wrong method", http.MethodPost, "/_roost/objects/counter/x", 405, "method_not_allowed"},
		{"unknown operation", http.MethodGet, "/_roost/objects/counter/x/frobnicate", 404, "not_found"},
		{"unknown route", http.MethodGet, "/_roost/elsewhere", 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, do(t, srv, tc.method, tc.path, ""), tc.status, tc.code)
		})
	}
	_, err := c.Inspect(t.Context(), admin.Ref{Class: "counter"}, admin.InspectOptions{})
	wantErrCode(t, err, errcode.InvalidID)
}
