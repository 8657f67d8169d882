package admin

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
)

// Ref names one object: its class and its ID, and the name it is addressed
// by ("" for an object addressed by ID).
type Ref struct {
	Class string `json:"class"`
	ID    ids.ID `json:"id"`
	Name  string `json:"name,omitempty"`
}

// String returns "class/name", or "class/id" for a ref without a name.
func (r Ref) String() string {
	if r.Name != "" {
		return r.Class + "/" + r.Name
	}
	return r.Class + "/" + r.ID.String()
}

// Sorts of [ListOptions.Sort]: key is ascending (class, then ID); the others
// put the largest, most recently active or newest first.
const (
	SortKey     = "key"
	SortSize    = "size"
	SortActive  = "active"
	SortCreated = "created"
)

// ListOptions selects a page of objects.
type ListOptions struct {
	// Class keeps one class's objects; "" lists every class.
	Class string
	// Sort is SortKey (the default, ""), SortSize, SortActive or SortCreated.
	Sort string
	// Limit is the most objects on a page: 0 means 100, at most 1000.
	Limit int
	// Cursor continues where the page that returned it as [Page.Next]
	// ended, for the same Class and Sort.
	Cursor string
	// Stale lists the inventory as last written, without first writing its
	// latest changes: on a full disk, where they cannot be written, a
	// listing otherwise fails with code storage_full.
	Stale bool
}

// Object is one object as the node's catalog knows it. Zero times are
// unknown (or, for NextWake, nothing pending).
type Object struct {
	Class string `json:"class"`
	ID    ids.ID `json:"id"`
	// Name is the name the object was addressed by; "" if unknown.
	Name       string    `json:"name,omitempty"`
	Created    time.Time `json:"created,omitzero"`
	LastActive time.Time `json:"last_active,omitzero"`
	// Size is the size of its database in bytes.
	Size int64 `json:"size"`
	// NextWake is when its earliest alarm or timer is due.
	NextWake time.Time `json:"next_wake,omitzero"`
	// Timers counts its alarm, named timers and cron schedules.
	Timers int `json:"timers"`
}

// Page is one page of a listing.
type Page struct {
	Objects []Object `json:"objects"`
	// Next is the cursor of the next page; "" on the last one.
	Next string `json:"next,omitempty"`
}

// Limits of [InspectOptions].
const (
	DefaultKVLimit    = 100
	MaxKVLimit        = 1000
	DefaultValueBytes = 1024
)

// InspectOptions selects the KV pairs that [Objects.Inspect] shows.
type InspectOptions struct {
	// Prefix keeps the keys that start with it.
	Prefix string
	// Start is the first key shown (inclusive).
	Start string
	// Cursor continues where the inspection that returned it as
	// [Inspection.KVNext] ended; it overrides Start.
	Cursor string
	// Limit is the most pairs shown: 0 means 100, at most 1000.
	Limit int
	// KeysOnly leaves the values out.
	KeysOnly bool
	// ValueBytes is how much of each value is shown: 0 means 1 KiB;
	// negative shows whole values.
	ValueBytes int
}

// Inspection is what an object stores.
type Inspection struct {
	Object Object `json:"object"`
	// KV holds the pairs selected by the options, in key order.
	KV []KV `json:"kv"`
	// KVNext is the cursor of the next pairs; "" after the last.
	KVNext string `json:"kv_next,omitempty"`
	// Tables are the object's own tables, views, indexes and triggers.
	Tables []Table `json:"tables"`
	// Timers are its alarm, named timers and cron schedules, earliest first.
	Timers []Timer `json:"timers"`
}

// KV is one KV pair, its value shown as text when it is valid UTF-8 and as
// base64 otherwise.
type KV struct {
	// Key is the key; base64 if KeyEncoding says so (a key that is not
	// valid UTF-8).
	Key         string `json:"key"`
	KeyEncoding string `json:"key_encoding,omitempty"`
	// Size is the value's length in bytes.
	Size int `json:"size"`
	// Value is the value, or its first bytes if Truncated; nil in keys-only
	// listings.
	Value *string `json:"value,omitempty"`
	// Encoding is "utf8" or "base64".
	Encoding  string `json:"encoding,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
}

// Encodings of KV keys and values.
const (
	EncodingUTF8   = "utf8"
	EncodingBase64 = "base64"
)

// NewKV shows a KV pair: the value's first maxBytes bytes (all of them if
// maxBytes is negative; nothing if keysOnly), cut at a character boundary
// when it is text.
func NewKV(key string, value []byte, keysOnly bool, maxBytes int) KV {
	kv := KV{Key: key, Size: len(value)}
	if !utf8.ValidString(key) {
		kv.Key, kv.KeyEncoding = base64.StdEncoding.EncodeToString([]byte(key)), EncodingBase64
	}
	if keysOnly {
		return kv
	}
	v := value
	if maxBytes >= 0 && len(v) > maxBytes {
		v, kv.Truncated = v[:maxBytes], true
	}
	var s string
	if utf8.Valid(value) {
		for len(v) > 0 && !utf8.Valid(v) { // cut inside a character
			v = v[:len(v)-1]
		}
		s, kv.Encoding = string(v), EncodingUTF8
	} else {
		s, kv.Encoding = base64.StdEncoding.EncodeToString(v), EncodingBase64
	}
	kv.Value = &s
	return kv
}

// EncodeCursor returns the KV cursor that starts at key.
func EncodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// DecodeCursor returns the key a KV cursor starts at.
func DecodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", errcode.New(errcode.BadRequest, "bad KV cursor: use the kv_next of an inspection")
	}
	return string(b), nil
}

// Table is one of the object's own schema objects.
type Table struct {
	Name string `json:"name"`
	// Type is "table", "view", "index" or "trigger".
	Type string `json:"type"`
	SQL  string `json:"sql"`
	// Rows is a table's row count; 0 for other types.
	Rows int64 `json:"rows"`
}

// Timer is one of the object's alarm (Name "", Kind "alarm"), named timers
// and cron schedules.
type Timer struct {
	Name string `json:"name"`
	// Kind is "alarm", "timer" or "cron".
	Kind string `json:"kind"`
	// Next is when it fires next (after Scheduled while a failed fire waits
	// for its retry).
	Next      time.Time `json:"next"`
	Scheduled time.Time `json:"scheduled"`
	// Spec is a cron schedule's expression.
	Spec string `json:"spec,omitempty"`
	// Attempt counts the failed runs of the pending fire.
	Attempt     int `json:"attempt"`
	PayloadSize int `json:"payload_size"`
}

// MaxRows bounds [Query.MaxRows].
const MaxRows = 10000

// Query is SQL for [Objects.SQL].
type Query struct {
	Query string `json:"query"`
	// Args are bound to the statement's parameters in order: strings,
	// numbers, booleans or null (JSON has no blobs).
	Args []any `json:"args,omitempty"`
	// Write lets the statement change the object's data; without it, a
	// write fails with code read_only.
	Write bool `json:"write,omitempty"`
	// MaxRows is the most rows returned: 0 means 1000, at most 10000.
	MaxRows int `json:"max_rows,omitempty"`
}

// UnmarshalJSON reads a Query, with integer arguments as int64 (JSON
// numbers would otherwise become float64 and bind as REAL).
func (q *Query) UnmarshalJSON(b []byte) error {
	type plain Query
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	for i, a := range p.Args {
		switch a := a.(type) {
		case json.Number:
			p.Args[i] = number(a)
		case nil, string, bool:
		default:
			return fmt.Errorf("argument %d: want a string, number, boolean or null, got %T", i+1, a)
		}
	}
	*q = Query(p)
	return nil
}

// number returns n as an int64 if it is one, else as a float64.
func number(n json.Number) any {
	if i, err := n.Int64(); err == nil {
		return i
	}
	f, _ := n.Float64()
	return f
}

// QueryResult is what [Objects.SQL] returns. Row values are int64,
// float64, string, []byte (a BLOB that is not valid UTF-8) or nil. On the
// wire, a []byte is {"blob":"<base64>"} and an infinite REAL is the string
// "Infinity" or "-Infinity".
type QueryResult struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
	// Truncated reports that the statement returned more rows than Rows
	// holds; TruncatedBy says which bound cut them: TruncatedByRows
	// (max_rows) or TruncatedByBytes (the server's bound on the rows'
	// JSON).
	Truncated   bool   `json:"truncated,omitempty"`
	TruncatedBy string `json:"truncated_by,omitempty"`
	// RowsAffected counts the rows it inserted, updated or deleted.
	RowsAffected int64 `json:"rows_affected"`
}

type wireResult QueryResult

// blob is a []byte value on the wire.
type blob struct {
	Blob []byte `json:"blob"`
}

// MarshalJSON writes r in its wire form.
func (r QueryResult) MarshalJSON() ([]byte, error) {
	w := wireResult(r)
	w.Rows = make([][]any, len(r.Rows))
	for i, row := range r.Rows {
		w.Rows[i] = make([]any, len(row))
		for j, v := range row {
			switch v := v.(type) {
			case []byte:
				w.Rows[i][j] = blob{v}
			case float64:
				w.Rows[i][j] = v
				if math.IsInf(v, 1) {
					w.Rows[i][j] = "Infinity"
				} else if math.IsInf(v, -1) {
					w.Rows[i][j] = "-Infinity"
				}
			default:
				w.Rows[i][j] = v
			}
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads r from its wire form.
func (r *QueryResult) UnmarshalJSON(b []byte) error {
	var w wireResult
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	for _, row := range w.Rows {
		for j, v := range row {
			switch v := v.(type) {
			case json.Number:
				row[j] = number(v)
			case map[string]any:
				s, _ := v["blob"].(string)
				bs, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return fmt.Errorf("blob value: %w", err)
				}
				row[j] = bs
			}
		}
	}
	*r = QueryResult(w)
	return nil
}

// Class is a registered class as GET /_roost/classes describes it: its
// name and its RPC methods.
type Class struct {
	Name    string   `json:"name"`
	Methods []Method `json:"methods"`
}

// Method is an RPC method: its name and the JSON Schemas (draft 2020-12)
// of its request and its response, derived from their Go types.
type Method struct {
	Name     string          `json:"name"`
	Request  json.RawMessage `json:"request"`
	Response json.RawMessage `json:"response"`
}

// ClassList is the answer of GET /_roost/classes, sorted by name.
type ClassList struct {
	Classes []Class `json:"classes"`
}
