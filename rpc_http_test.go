package roost_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/roost-dev/roost"
)

// RPC over HTTP answers what the Go call answers: the same JSON response,
// and an error with the same code.
func TestRPCOverHTTP_MatchesTheGoCall(t *testing.T) {
	app := newApp(t, roost.Config{})
	ledgers := registerLedger(app, "ledger")
	srv := serve(t, app)

	res := do(t, srv, http.MethodPost, "/ledger/ada/rpc/deposit", `{"amount":5}`)
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/json" {
		t.Fatalf("POST /ledger/ada/rpc/deposit: %d %s %q, want 200 application/json", res.status, res.header.Get("Content-Type"), res.body)
	}
	var overHTTP balance
	if err := json.Unmarshal([]byte(res.body), &overHTTP); err != nil || overHTTP.Balance != 5 {
		t.Fatalf("POST /ledger/ada/rpc/deposit answered %q (%v), want balance 5", res.body, err)
	}
	if got := ledgers.deposit(t, "ada", depositRequest{Amount: 2}); got.Balance != 7 {
		t.Fatalf("the Go call after the HTTP one: balance %d, want 7 (the HTTP call's write committed)", got.Balance)
	}
	id := ledgers.GetByName("ada").ID().String()
	if res := do(t, srv, http.MethodPost, "/ledger/id/"+id+"/rpc/balance", ""); res.status != http.StatusOK || !strings.Contains(res.body, `"balance":7`) {
		t.Fatalf("POST /ledger/id/%s/rpc/balance with no body: %d %q, want 200 and balance 7", id, res.status, res.body)
	}

	// The method's own error code, and a plain error's handler_error, as
	// the Go call reports them; the failed calls' writes roll back.
	_, goErr := ledgerDeposit.Call(t.Context(), ledgers.GetByName("ada"), depositRequest{Amount: 1, Fail: "code"})
	wantCode(t, goErr, "insufficient_funds")
	res = do(t, srv, http.MethodPost, "/ledger/ada/rpc/deposit", `{"amount":1,"fail":"code"}`)
	wantError(t, res, http.StatusInternalServerError, "insufficient_funds")
	wantError(t, do(t, srv, http.MethodPost, "/ledger/ada/rpc/deposit", `{"amount":1,"fail":"plain"}`),
		http.StatusInternalServerError, "handler_error")
	if got := ledgers.deposit(t, "ada", depositRequest{}); got.Balance != 7 {
		t.Fatalf("balance %d after the failed calls, want 7", got.Balance)
	}
}

func TestRPCOverHTTP_BadCalls(t *testing.T) {
	app := newApp(t, roost.Config{})
	registerLedger(app, "ledger")
	registerCounter(app, "counter") // no methods: /rpc/ paths are its own
	srv := serve(t, app)

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown method", http.MethodPost, "/ledger/ada/rpc/nope", `{}`, http.StatusNotFound, "unknown_method"},
		{"body not JSON", http.MethodPost, "/ledger/ada/rpc/deposit", `{"amount":`, http.StatusBadRequest, "bad_request"},
		{"body of another type", http.MethodPost, "/ledger/ada/rpc/deposit", `{"amount":"five"}`, http.StatusBadRequest, "bad_request"},
		{"GET", http.MethodGet, "/ledger/ada/rpc/balance", "", http.StatusMethodNotAllowed, "method_not_allowed"},
		{"unknown class", http.MethodPost, "/nope/ada/rpc/balance", `{}`, http.StatusNotFound, "unknown_class"},
		{"invalid ID", http.MethodPost, "/ledger/id/xyz/rpc/balance", `{}`, http.StatusBadRequest, "invalid_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, srv, tc.method, tc.path, tc.body)
			wantError(t, res, tc.status, tc.code)
			if tc.status == http.StatusMethodNotAllowed && res.header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow = %q, want POST", res.header.Get("Allow"))
			}
		})
	}

	// A class with methods reserves every path under /rpc/; a class
	// without methods leaves them to its objects' Fetch, as before.
	for _, path := range []string{"/ledger/ada/rpc/", "/ledger/ada/rpc/deposit/more"} {
		wantError(t, do(t, srv, http.MethodPost, path, `{}`), http.StatusNotFound, "unknown_method")
	}
	if res := do(t, srv, http.MethodPost, "/counter/c/rpc/add", ""); !strings.Contains(res.body, "no route /rpc/add on counter") {
		t.Errorf("POST /counter/c/rpc/add (a class without methods): %d %q, want the counter's own 404", res.status, res.body)
	}
}

func TestRPCOverHTTP_BodyLimit(t *testing.T) {
	app := newApp(t, roost.Config{MaxBodyBytes: 64})
	registerLedger(app, "ledger")
	srv := serve(t, app)
	big := `{"amount":1,"pad":0,"fail":"` + strings.Repeat("x", 100) + `"}`
	wantError(t, do(t, srv, http.MethodPost, "/ledger/ada/rpc/deposit", big), http.StatusRequestEntityTooLarge, "body_too_large")
}

// FuzzRPCOverHTTP sends any method name and body to a ledger's RPC path:
// the answer is the method's JSON response or a JSON error whose code says
// what was wrong with the input, never internal and never a panic.
func FuzzRPCOverHTTP(f *testing.F) {
	f.Add("deposit", []byte(`{"amount":3}`))
	f.Add("deposit", []byte(`{"amount":"x"}`))
	f.Add("balance", []byte(``))
	f.Add("ping", []byte(`[1,2`))
	f.Add("nope", []byte(`null`))
	f.Add("a%2Fb", []byte(`{}`))
	app := newApp(f, roost.Config{MaxBodyBytes: 1 << 10})
	registerLedger(app, "ledger")
	h := app.Handler()
	f.Fuzz(func(t *testing.T, method string, body []byte) {
		switch method {
		case ledgerWait.Name(), ledgerBlock.Name(), ledgerHop.Name():
			return // they wait for the test's signals, or call on
		}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/ledger/fuzz/rpc/"+url.PathEscape(method), bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		code := w.Header().Get("Roost-Error-Code")
		switch {
		case w.Code == http.StatusOK && code == "" && json.Valid(w.Body.Bytes()):
		case code == "bad_request" || code == "unknown_method" || code == "body_too_large" ||
			code == "not_found" || code == "insufficient_funds" || code == "handler_error":
		default:
			t.Fatalf("POST rpc/%q with %q: %d %s %q", method, body, w.Code, code, w.Body)
		}
	})
}

// GET /_roost/classes describes every class and the JSON Schemas of its
// methods' requests and responses.
func TestRPCOverHTTP_ClassesDescribeMethods(t *testing.T) {
	app := newApp(t, roost.Config{})
	registerLedger(app, "ledger")
	registerCounter(app, "counter")
	app.Handle("/_roost/", app.AdminHandler(""))
	srv := serve(t, app)
	res := do(t, srv, http.MethodGet, "/_roost/classes", "")
	var list struct {
		Classes []struct {
			Name    string `json:"name"`
			Methods []struct {
				Name string         `json:"name"`
				Req  map[string]any `json:"request"`
				Resp map[string]any `json:"response"`
			} `json:"methods"`
		} `json:"classes"`
	}
	if err := json.Unmarshal([]byte(res.body), &list); err != nil || res.status != http.StatusOK {
		t.Fatalf("GET /_roost/classes: %d %q (%v)", res.status, res.body, err)
	}
	if len(list.Classes) != 2 || list.Classes[0].Name != "counter" || len(list.Classes[0].Methods) != 0 || list.Classes[1].Name != "ledger" {
		t.Fatalf("GET /_roost/classes: %s, want counter (no methods), then ledger", res.body)
	}
	var names []string
	for _, m := range list.Classes[1].Methods {
		names = append(names, m.Name)
		if m.Name != "deposit" {
			continue
		}
		// {"$ref":"#/$defs/depositRequest","$defs":{"depositRequest":{…}}}
		def := m.Req["$defs"].(map[string]any)["depositRequest"].(map[string]any)
		props, _ := json.Marshal(def["properties"])
		req, _ := json.Marshal(def["required"])
		if !strings.Contains(string(props), `"amount":{"type":"integer"}`) || string(req) != `["amount"]` {
			t.Errorf("deposit's request schema %v: want an integer amount, required, and optional fail and pad", m.Req)
		}
		if _, ok := m.Resp["$defs"].(map[string]any)["balance"]; !ok {
			t.Errorf("deposit's response schema %v: want the definition of balance", m.Resp)
		}
	}
	if want := "balance block deadline deposit hop ping wait"; strings.Join(names, " ") != want {
		t.Errorf("ledger's methods: %v, want %s (sorted)", names, want)
	}
}
