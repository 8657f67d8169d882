package shop_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/shop"
	"github.com/roost-dev/roost/roosttest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// get reads an order through the shop's HTTP routes.
func get(t *testing.T, env *roosttest.Env, id string) shop.Order {
	t.Helper()
	code, body := env.HTTP(http.MethodGet, "/shop/corner/orders/"+id, "")
	var o shop.Order
	if code != http.StatusOK || json.Unmarshal([]byte(body), &o) != nil {
		t.Fatalf("GET order %s: %d %s", id, code, body)
	}
	return o
}

// An order placed through HTTP is charged (its row and the charge step's
// record together, after the payment service's failure), sleeps, takes the
// delivery and ends delivered, across a restart of the app.
func TestShop_AnOrderFromPlacedToDelivered(t *testing.T) {
	env := roosttest.New(t, func(app *roost.App, env *roosttest.Env) {
		shop.Register(app, env.Workflows(), shop.Config{})
	})
	if code, body := env.HTTP(http.MethodGet, "/shop/corner/orders", ""); code != http.StatusOK || body != "{\"orders\":[]}\n" {
		t.Fatalf("the orders of a new shop: %d %s", code, body)
	}
	if code, body := env.HTTP(http.MethodPost, "/shop/corner/orders", `{"id":"o1","item":"soup","cents":900}`); code != http.StatusCreated {
		t.Fatalf("place: %d %s", code, body)
	}
	if code, body := env.HTTP(http.MethodPost, "/shop/corner/orders", `{"id":"o1","item":"soup","cents":900}`); code != http.StatusOK {
		t.Fatalf("place again: %d %s, want 200 (it exists)", code, body)
	}
	for _, bad := range []string{`{"id":"o2"}`, `nope`} {
		if code, _ := env.HTTP(http.MethodPost, "/shop/corner/orders", bad); code != http.StatusBadRequest {
			t.Errorf("place %s: %d, want 400", bad, code)
		}
	}
	env.AdvanceUntil(func() bool { return get(t, env, "o1").Workflow.Status == "sleeping" }, time.Second, time.Minute)
	o := get(t, env, "o1")
	if o.Status != "charged" || o.Charge != "ch_o1" || o.Workflow.Steps[0].Attempts != 2 {
		t.Fatalf("after the charge: %+v, steps %+v", o, o.Workflow.Steps)
	}
	env.Restart()
	env.AdvanceUntil(func() bool { return get(t, env, "o1").Workflow.Status == "waiting" }, time.Minute, 2*time.Hour)
	if code, body := env.HTTP(http.MethodPost, "/shop/corner/orders/o1/delivered", `{"by":"bob"}`); code != http.StatusAccepted {
		t.Fatalf("delivered: %d %s", code, body)
	}
	env.AdvanceUntil(func() bool { return get(t, env, "o1").Workflow.Status == "complete" }, time.Second, time.Minute)
	o = get(t, env, "o1")
	var out string
	if o.Status != "delivered" || json.Unmarshal(o.Workflow.Output, &out) != nil || out != "ch_o1 delivered by bob" {
		t.Fatalf("at the end: %+v, output %s", o, o.Workflow.Output)
	}
	if code, _ := env.HTTP(http.MethodGet, "/shop/corner/orders/none", ""); code != http.StatusNotFound {
		t.Fatalf("a missing order: %d, want 404", code)
	}
}
