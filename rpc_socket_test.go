package roost_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/roost-dev/roost"
)

// tally is a class whose sockets carry RPC calls (WebSocketRPC) and echo
// other messages.
type tally struct{ st *roost.State }

type addRequest struct {
	By   int64 `json:"by"`
	Fail bool  `json:"fail,omitempty"` // fail after writing, with code too_much
}

type total struct {
	Total int64 `json:"total"`
}

var tallyAdd = roost.NewMethod("add", func(t *tally, ctx context.Context, req addRequest) (total, error) {
	b, _, err := t.st.Storage().Get(ctx, "n")
	if err != nil {
		return total{}, err
	}
	n, _ := strconv.ParseInt(string(b), 10, 64)
	n += req.By
	if err := t.st.Storage().Put(ctx, "n", strconv.AppendInt(nil, n, 10)); err != nil {
		return total{}, err
	}
	if req.Fail {
		return total{}, roost.NewError("too_much", "the tally refuses")
	}
	return total{n}, nil
})

func (t *tally) Fetch(w http.ResponseWriter, r *http.Request) error {
	_, err := t.st.AcceptWebSocket(w, r)
	return err
}

func (t *tally) WebSocketMessage(ctx context.Context, ws *roost.WebSocket, msg roost.WebSocketMessage) error {
	ws.SendText(ctx, "echo:"+msg.Text())
	return nil
}

func registerTally(app *testApp, name string, overSockets bool) *roost.Namespace {
	return roost.RegisterWithOptions(app.App, name, func(st *roost.State) (*tally, error) { return &tally{st}, nil },
		&roost.ClassOptions{Methods: []roost.MethodHandler{tallyAdd}, WebSocketRPC: overSockets})
}

// A call over a socket answers what the Go call and the call over HTTP
// answer, with the same error codes; a failed call's writes roll back; other
// messages still reach WebSocketMessage.
func TestRPCOverWebSocket_MatchesTheOtherCalls(t *testing.T) {
	app := newApp(t, roost.Config{})
	tallies := registerTally(app, "tally", true)
	srv := serve(t, app)
	c := wsDial(t, srv.URL+"/tally/a/")

	if got := wsSay(t, c, `{"rpc":"add","id":1,"params":{"by":5}}`); got != `{"rpc":"add","id":1,"result":{"total":5}}` {
		t.Fatalf("call over the socket: %s", got)
	}
	res := do(t, srv, http.MethodPost, "/tally/a/rpc/add", `{"by":2}`)
	if res.status != http.StatusOK || strings.TrimSpace(res.body) != `{"total":7}` {
		t.Fatalf("call over HTTP after it: %d %s", res.status, res.body)
	}
	if got, err := tallyAdd.Call(t.Context(), tallies.GetByName("a"), addRequest{By: 1}); err != nil || got.Total != 8 {
		t.Fatalf("Go call after them: %+v, %v", got, err)
	}

	for _, tc := range []struct{ msg, want string }{
		{`{"rpc":"add","id":"x","params":{"by":1,"fail":true}}`, `{"rpc":"add","id":"x","error":{"code":"too_much","message":"the tally refuses"}}`},
		{`{"rpc":"nope","id":2}`, `{"rpc":"nope","id":2,"error":{"code":"unknown_method",`},
		{`{"rpc":"add","id":3,"params":{"by":"five"}}`, `{"rpc":"add","id":3,"error":{"code":"bad_request",`},
		{`{"rpc":"add","params":{"by":0}}`, `{"rpc":"add","result":{"total":8}}`},
	} {
		if got := wsSay(t, c, tc.msg); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %s, want %s…", tc.msg, got, tc.want)
		}
	}
	_, goErr := tallyAdd.Call(t.Context(), tallies.GetByName("a"), addRequest{By: 1, Fail: true})
	wantCode(t, goErr, "too_much")
	wantError(t, do(t, srv, http.MethodPost, "/tally/a/rpc/add", `{"by":1,"fail":true}`), http.StatusInternalServerError, "too_much")

	for _, msg := range []string{`hello`, `{"rpc":7}`, `{"not":"a call"}`} {
		if got := wsSay(t, c, msg); got != "echo:"+msg {
			t.Errorf("%s: %s, want it echoed by WebSocketMessage", msg, got)
		}
	}
	var reply struct{ Result total }
	if err := json.Unmarshal([]byte(wsSay(t, c, `{"rpc":"add","id":9,"params":{"by":0}}`)), &reply); err != nil || reply.Result.Total != 8 {
		t.Fatalf("after the failed calls the total is %+v (%v), want 8", reply, err)
	}
}

// A class that does not opt in gets calls as messages.
func TestRPCOverWebSocket_OnlyWhenTheClassAllowsIt(t *testing.T) {
	app := newApp(t, roost.Config{})
	registerTally(app, "tally", false)
	srv := serve(t, app)
	c := wsDial(t, srv.URL+"/tally/a/")
	msg := `{"rpc":"add","id":1,"params":{"by":5}}`
	if got := wsSay(t, c, msg); got != "echo:"+msg {
		t.Fatalf("%s, want the message echoed", got)
	}
}
