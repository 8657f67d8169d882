package admin_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/roost-dev/roost/internal/admin"
)

func TestNewKV_ShowsValuesAsTextOrBase64(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, key     string
		value         []byte
		keysOnly      bool
		max           int
		wantKey       string
		wantValue     string // "-" for none
		wantEncoding  string
		wantTruncated bool
	}{
		{name: "text", key: "k", value: []byte("hello"), max: 10, wantKey: "k", wantValue: "hello", wantEncoding: "utf8"},
		{name: "text cut", key: "k", value: []byte("hello"), max: 3, wantKey: "k", wantValue: "hel", wantEncoding: "utf8", wantTruncated: true},
		{name: "text cut inside a character", key: "k", value: []byte("aé"), max: 2, wantKey: "k", wantValue: "a", wantEncoding: "utf8", wantTruncated: true},
		{name: "bytes", key: "k", value: []byte{0xff, 0, 1}, max: 10, wantKey: "k", wantValue: "/wAB", wantEncoding: "base64"},
		{name: "bytes cut", key: "k", value: []byte{0xff, 0, 1}, max: 1, wantKey: "k", wantValue: "/w==", wantEncoding: "base64", wantTruncated: true},
		{name: "whole", key: "k", value: []byte(strings.Repeat("x", 5000)), max: -1, wantKey: "k", wantValue: strings.Repeat("x", 5000), wantEncoding: "utf8"},
		{name: "empty", key: "k", value: nil, max: 10, wantKey: "k", wantValue: "", wantEncoding: "utf8"},
		{name: "keys only", key: "k", value: []byte("hello"), keysOnly: true, max: 10, wantKey: "k", wantValue: "-"},
		{name: "binary key", key: "\xff", value: []byte("v"), max: 10, wantKey: "/w==", wantValue: "v", wantEncoding: "utf8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kv := admin.NewKV(tc.key, tc.value, tc.keysOnly, tc.max)
			value := "-"
			if kv.Value != nil {
				value = *kv.Value
			}
			if kv.Key != tc.wantKey || value != tc.wantValue || kv.Encoding != tc.wantEncoding ||
				kv.Truncated != tc.wantTruncated || kv.Size != len(tc.value) {
				t.Fatalf("got %+v (value %q)", kv, value)
			}
			if (kv.KeyEncoding == "base64") != (tc.key != tc.wantKey) {
				t.Fatalf("key encoding %q", kv.KeyEncoding)
			}
		})
	}
}

func TestCursor_RoundTrips(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"", "a", "a\x00", "\xff\xfe", "ü/ñ"} {
		got, err := admin.DecodeCursor(admin.EncodeCursor(key))
		if err != nil || got != key {
			t.Errorf("cursor of %q decodes to %q, %v", key, got, err)
		}
	}
	if _, err := admin.DecodeCursor("not base64!"); err == nil {
		t.Error("DecodeCursor accepted a bad cursor")
	}
}

func TestQueryResult_JSONRoundTrip(t *testing.T) {
	t.Parallel()
	in := admin.QueryResult{Columns: []string{"a"}, Rows: [][]any{
		{int64(math.MaxInt64)}, {1.5}, {"s"}, {[]byte{0, 0xff}}, {nil}, {math.Inf(1)}, {math.Inf(-1)},
	}, RowsAffected: 3}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out admin.QueryResult
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	want := []any{int64(math.MaxInt64), 1.5, "s", []byte{0, 0xff}, nil, "Infinity", "-Infinity"}
	for i, w := range want {
		got := out.Rows[i][0]
		if b, ok := w.([]byte); ok {
			if g, ok := got.([]byte); !ok || string(g) != string(b) {
				t.Errorf("row %d: %#v, want %#v", i, got, w)
			}
		} else if got != w {
			t.Errorf("row %d: %#v, want %#v", i, got, w)
		}
	}
	if out.RowsAffected != 3 {
		t.Errorf("rows affected %d", out.RowsAffected)
	}
}

func TestQuery_ArgumentsKeepIntegers(t *testing.T) {
	t.Parallel()
	var q admin.Query
	if err := json.Unmarshal([]byte(`{"query":"x","args":[9007199254740993, 1.5, "s", true, null]}`), &q); err != nil {
		t.Fatal(err)
	}
	want := []any{int64(9007199254740993), 1.5, "s", true, nil}
	for i, w := range want {
		if q.Args[i] != w {
			t.Errorf("arg %d = %#v, want %#v", i, q.Args[i], w)
		}
	}
	if err := json.Unmarshal([]byte(`{"query":"x","args":[{"a":1}]}`), &q); err == nil {
		t.Error("an object argument was accepted")
	}
}
