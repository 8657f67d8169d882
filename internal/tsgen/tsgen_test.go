package tsgen

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/invopop/jsonschema"

	"github.com/roost-dev/roost/internal/admin"
)

var update = flag.Bool("update", false, "rewrite the golden files")

type item struct {
	SKU  string         `json:"sku" jsonschema:"description=the stock-keeping unit"`
	Qty  int            `json:"qty"`
	Tags []string       `json:"tags,omitempty"`
	Meta map[string]int `json:"meta,omitempty"`
	At   time.Time      `json:"at"`
	Note *string        `json:"note,omitempty"`
	Raw  []byte         `json:"raw,omitempty"`
	Kind string         `json:"kind" jsonschema:"enum=book,enum=pen"`
}

type order struct {
	ID    string `json:"id"`
	Items []item `json:"items"`
	Paid  bool   `json:"paid"`
	Extra any    `json:"extra,omitempty"`
}

// otherItem has the name of item in another class's schema, with other
// fields: it must get a name of its own.
type otherItem struct {
	Weight float64 `json:"weight"`
}

// schemaOf mirrors the root package's: the reflector Roost describes
// methods with.
func schemaOf(t *testing.T, v any) json.RawMessage {
	t.Helper()
	r := jsonschema.Reflector{Anonymous: true}
	b, err := json.Marshal(r.ReflectFromType(reflect.TypeOf(v)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGenerate_Golden(t *testing.T) {
	// otherItem is renamed "item" in its schema, as a type of another
	// package with the same name would be.
	other := schemaOf(t, []otherItem{})
	other = json.RawMessage(strings.ReplaceAll(string(other), "otherItem", "item"))
	classes := []admin.Class{
		{Name: "shop", Methods: []admin.Method{
			{Name: "place", Request: schemaOf(t, order{}), Response: schemaOf(t, map[string]item{})},
			{Name: "count", Request: schemaOf(t, struct{}{}), Response: schemaOf(t, 0)},
		}},
		{Name: "chat-room", Methods: []admin.Method{
			{Name: "weigh.all", Request: other, Response: schemaOf(t, []string{})},
		}},
		{Name: "plain"},
	}
	got, err := Generate(classes, "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "shop.ts")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./internal/tsgen -update writes it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("Generate:\n%s\nwant (%s):\n%s", got, golden, want)
	}
}

func TestGenerate_BadSchema(t *testing.T) {
	_, err := Generate([]admin.Class{{Name: "c", Methods: []admin.Method{{Name: "m", Request: json.RawMessage(`{"type":7}`), Response: json.RawMessage(`{}`)}}}}, "x")
	if err == nil {
		t.Fatal("Generate with a schema whose type is a number: no error")
	}
}

func TestPascalAndKey(t *testing.T) {
	for in, want := range map[string]string{"depositRequest": "DepositRequest", "chat-room": "ChatRoom", "weigh.all": "WeighAll", "9lives": "T9lives", "": "T"} {
		if got := pascal(in); got != want {
			t.Errorf("pascal(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"amount": "amount", "chat-room": `"chat-room"`, "$x": "$x", "1a": `"1a"`, "": `""`} {
		if got := key(in); got != want {
			t.Errorf("key(%q) = %s, want %s", in, got, want)
		}
	}
}
