package admin_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/roost-dev/roost/internal/admin"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
)

func wantCode(t testing.TB, err error, code errcode.Code) {
	t.Helper()
	if ce, ok := errors.AsType[*errcode.Error](err); !ok || ce.Code != code {
		t.Fatalf("got %v, want an error with code %s", err, code)
	}
}

func TestClient_NamesRoundTripThroughPaths(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	_, c := serveAdmin(t, app, "", "")
	names := []string{"plain", "a/b", ".", "..", "x/../y", "a//b", "ü ñ?#", "%41", "id"}
	for _, name := range names {
		ref := admin.Ref{Class: "kv", Name: name}
		if _, err := c.SQL(t.Context(), ref, admin.Query{Query: "CREATE TABLE t (x)", Write: true}); err != nil {
			t.Fatalf("create %q: %v", name, err)
		}
		in, err := c.Inspect(t.Context(), ref, admin.InspectOptions{})
		if err != nil {
			t.Fatalf("inspect %q: %v", name, err)
		}
		if in.Object.ID != ids.FromName("kv", name) || len(in.Tables) != 1 {
			t.Fatalf("inspect %q: %+v, want the object of that name with its table", name, in.Object)
		}
	}
	page, err := c.List(t.Context(), admin.ListOptions{Class: "kv"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[ids.ID]string{}
	for _, o := range page.Objects {
		got[o.ID] = o.Name
	}
	for _, name := range names {
		want := name
		if name == "id" { // reachable only by its ID, so its name is unknown
			want = ""
		}
		if n, ok := got[ids.FromName("kv", name)]; !ok || n != want {
			t.Errorf("listing: object %q has name %q (listed %v)", name, n, ok)
		}
	}
}

func TestClient_ExportThenImportCopiesTheData(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	srv, c := serveAdmin(t, app, "", "")
	put(t, srv, "src", "greeting", "hello")
	var buf bytes.Buffer
	n, err := c.Export(t.Context(), admin.Ref{Class: "kv", Name: "src"}, &buf)
	if err != nil || n != int64(buf.Len()) || !strings.HasPrefix(buf.String(), "SQLite format 3\x00") {
		t.Fatalf("export: %d bytes, %v", n, err)
	}
	dst := admin.Ref{Class: "kv", ID: ids.New()}
	if err := c.Import(t.Context(), dst, bytes.NewReader(buf.Bytes()), false); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Import(t.Context(), dst, bytes.NewReader(buf.Bytes()), false), errcode.Conflict)
	in, err := c.Inspect(t.Context(), dst, admin.InspectOptions{})
	if err != nil || len(in.KV) != 1 || in.KV[0].Key != "greeting" || *in.KV[0].Value != "hello" {
		t.Fatalf("imported object: %+v, %v", in, err)
	}
	if err := c.Remove(t.Context(), dst); err != nil {
		t.Fatal(err)
	}
	_, err = c.Export(t.Context(), dst, &buf)
	wantCode(t, err, errcode.NotFound)
}

func TestClient_SQLValuesKeepTheirTypes(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	_, c := serveAdmin(t, app, "", "")
	ref := admin.Ref{Class: "kv", Name: "v"}
	_, err := c.SQL(t.Context(), ref, admin.Query{Query: "CREATE TABLE t (i, r, s, b, n); INSERT INTO t VALUES (?, ?, ?, x'00ff', NULL)",
		Args: []any{int64(1) << 60, 2.5, "text"}, Write: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.SQL(t.Context(), ref, admin.Query{Query: "SELECT i, r, s, b, n, typeof(i), 1e999 FROM t"})
	if err != nil {
		t.Fatal(err)
	}
	row := res.Rows[0]
	if row[0] != int64(1)<<60 || row[1] != 2.5 || row[2] != "text" || !bytes.Equal(row[3].([]byte), []byte{0, 0xff}) ||
		row[4] != nil || row[5] != "integer" || row[6] != "Infinity" {
		t.Fatalf("row %#v", row)
	}
	res, err = c.SQL(t.Context(), ref, admin.Query{MaxRows: 5,
		Query: "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20) SELECT i FROM n"})
	if err != nil || len(res.Rows) != 5 || !res.Truncated {
		t.Fatalf("max rows 5: %+v, %v; want 5 rows, truncated", res, err)
	}
}

func TestClient_ErrorsCarryTheServersCode(t *testing.T) {
	t.Parallel()
	app := newApp(t)
	srv, c := serveAdmin(t, app, "", "")
	_, err := c.Inspect(t.Context(), admin.Ref{Class: "nope", Name: "x"}, admin.InspectOptions{})
	wantCode(t, err, errcode.UnknownClass)
	_, err = c.SQL(t.Context(), admin.Ref{Class: "kv", Name: "x"}, admin.Query{Query: "CREATE TABLE t (x)"})
	wantCode(t, err, errcode.NotFound) // read-only and no storage
	_, err = c.SQL(t.Context(), admin.Ref{Class: "kv", Name: "x"}, admin.Query{Query: "SELEC 1", Write: true})
	wantCode(t, err, errcode.SQLError)

	srv.Close()
	_, err = c.List(t.Context(), admin.ListOptions{})
	if err == nil || errcode.Of(err) != errcode.Internal || !strings.Contains(err.Error(), "reach the Roost server") {
		t.Fatalf("list from a closed server: %v", err)
	}
}

func TestClient_AnswerThatIsNotRoostsKeepsItsStatus(t *testing.T) {
	t.Parallel()
	// A proxy in front of the server, which Roost does not own: its error
	// pages are not Roost's JSON.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>login first</html>", http.StatusUnauthorized)
	}))
	defer proxy.Close()
	c, err := admin.NewClient(proxy.URL, "", proxy.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(t.Context(), admin.ListOptions{})
	wantCode(t, err, errcode.Unauthorized)
	if !strings.Contains(err.Error(), "login first") {
		t.Errorf("error %q does not show the answer", err)
	}
}

func TestClient_RefusesBadServerURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://host", "http://", "http://h/?q=1", "::"} {
		if _, err := admin.NewClient(u, "", nil); err == nil {
			t.Errorf("NewClient(%q) accepted it", u)
		}
	}
	for _, u := range []string{"http://127.0.0.1:8080", "https://roost.example/", "http://[::1]:8080/base"} {
		if _, err := admin.NewClient(u, "", nil); err != nil {
			t.Errorf("NewClient(%q): %v", u, err)
		}
	}
}
