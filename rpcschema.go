package roost

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/invopop/jsonschema"

	"github.com/roost-dev/roost/internal/node"
)

// describeMethods returns the JSON Schemas of the methods' requests and
// responses, sorted by method name, for the admin API (GET
// /_roost/classes), which `roost gen ts` turns into TypeScript types. A
// schema follows encoding/json's rules for its Go type: a field without
// omitempty is required; named types are definitions under $defs.
func describeMethods(methods map[string]MethodHandler) []node.MethodInfo {
	out := make([]node.MethodInfo, 0, len(methods))
	for name, h := range methods {
		req, resp := h.types()
		out = append(out, node.MethodInfo{Name: name, Request: schemaOf(req), Response: schemaOf(resp)})
	}
	slices.SortFunc(out, func(a, b node.MethodInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// schemaOf returns the JSON Schema of t's JSON encoding. A type the
// reflector cannot describe (one with a func or a chan, which encoding/json
// refuses too) gets a schema that allows anything and says why.
func schemaOf(t reflect.Type) (schema json.RawMessage) {
	defer func() {
		if v := recover(); v != nil {
			schema, _ = json.Marshal(map[string]string{"$comment": fmt.Sprintf("no JSON Schema for %s: %v", t, v)})
		}
	}()
	r := jsonschema.Reflector{Anonymous: true}
	b, err := json.Marshal(r.ReflectFromType(t))
	if err != nil {
		panic(err)
	}
	return b
}
