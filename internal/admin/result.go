package admin

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/roost-dev/roost/internal/errcode"
)

// DefaultMaxResultBytes is the default bound of an SQL answer's rows
// ([Config.MaxResultBytes]).
const DefaultMaxResultBytes = 16 << 20

// What cut a result short: [QueryResult.TruncatedBy].
const (
	TruncatedByRows  = "max_rows"
	TruncatedByBytes = "max_bytes"
)

// RowWriter receives the result of [Objects.SQL] as the statement produces
// it, in the object's turn.
type RowWriter interface {
	// Columns is called once, before any row, with the column names of the
	// last statement.
	Columns(cols []string) error
	// Row receives one row: int64, float64, string, []byte or nil values,
	// valid only during the call. more false stops the statement without
	// error (the result is truncated); an error fails the query.
	Row(vals []any) (more bool, err error)
}

// rowLimit returns q's row bound: MaxRows, 0 meaning 1000.
func (q Query) rowLimit() (int, error) {
	switch {
	case q.MaxRows < 0 || q.MaxRows > MaxRows:
		return 0, errcode.New(errcode.BadRequest, "sql: max rows must be 0 to %d, got %d", MaxRows, q.MaxRows)
	case q.MaxRows == 0:
		return 1000, nil
	}
	return q.MaxRows, nil
}

// budget bounds a result by rows and by the size of its rows as JSON, the
// form the HTTP API sends them in; both the HTTP answer and the
// [Collector] count the same way.
type budget struct {
	maxRows     int
	maxBytes    int64
	rows        int
	bytes       int64
	truncatedBy string
	buf         []byte // the JSON of the last row admitted
}

func newBudget(q Query, maxBytes int64) (budget, error) {
	n, err := q.rowLimit()
	if maxBytes <= 0 {
		maxBytes = DefaultMaxResultBytes
	}
	return budget{maxRows: n, maxBytes: maxBytes}, err
}

// admit encodes vals into b.buf, as the next element of the rows array,
// and reports whether it fits; if it does not, the result ends before it
// and truncatedBy says which bound it met. Encoding stops as soon as the
// row is over the bytes left, so a row too big to send is never encoded
// whole.
func (b *budget) admit(vals []any) (bool, error) {
	if b.rows == b.maxRows {
		b.truncatedBy = TruncatedByRows
		return false, nil
	}
	b.buf = b.buf[:0]
	if b.rows > 0 {
		b.buf = append(b.buf, ',')
	}
	b.buf = append(b.buf, '[')
	for i, v := range vals {
		if i > 0 {
			b.buf = append(b.buf, ',')
		}
		var err error
		if b.buf, err = appendValue(b.buf, v); err != nil {
			return false, err
		}
		if b.bytes+int64(len(b.buf))+1 > b.maxBytes { // +1: the closing bracket
			b.truncatedBy = TruncatedByBytes
			return false, nil
		}
	}
	b.buf = append(b.buf, ']')
	b.rows++
	b.bytes += int64(len(b.buf))
	return true, nil
}

// appendValue appends v's JSON to buf in the wire form of [QueryResult].
func appendValue(buf []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case int64:
		return strconv.AppendInt(buf, v, 10), nil
	case []byte:
		buf = append(buf, `{"blob":"`...)
		return append(base64.StdEncoding.AppendEncode(buf, v), `"}`...), nil
	case string:
		return appendString(buf, v), nil
	case float64:
		if math.IsInf(v, 1) {
			return append(buf, `"Infinity"`...), nil
		} else if math.IsInf(v, -1) {
			return append(buf, `"-Infinity"`...), nil
		}
	}
	b, err := json.Marshal(v)
	return append(buf, b...), err
}

// jsonHex are the digits of \u escapes.
const jsonHex = "0123456789abcdef"

// escapeByte appends the JSON escape of the ASCII byte c.
func escapeByte(buf []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(buf, '\\', c)
	case '\b':
		return append(buf, '\\', 'b')
	case '\f':
		return append(buf, '\\', 'f')
	case '\n':
		return append(buf, '\\', 'n')
	case '\r':
		return append(buf, '\\', 'r')
	case '\t':
		return append(buf, '\\', 't')
	}
	return append(buf, '\\', 'u', '0', '0', jsonHex[c>>4], jsonHex[c&0xf])
}

// appendString appends s as a JSON string, escaped exactly as
// encoding/json's Marshal escapes it, straight into buf: a value of
// megabytes is not encoded into a buffer of its own first.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			buf = escapeByte(append(buf, s[start:i]...), c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf = append(append(buf, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			buf = append(append(buf, s[start:i]...), '\\', 'u', '2', '0', '2', jsonHex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(buf, s[start:]...), '"')
}

// Collector is a [RowWriter] that keeps the rows in memory, within the
// bounds of the HTTP API's answer: the Go API's admin SQL.
type Collector struct {
	budget
	res QueryResult
}

// NewCollector returns a collector for q's rows, at most q.MaxRows of them
// and maxBytes of their JSON (0: [DefaultMaxResultBytes]).
func NewCollector(q Query, maxBytes int64) (*Collector, error) {
	b, err := newBudget(q, maxBytes)
	if err != nil {
		return nil, err
	}
	return &Collector{budget: b, res: QueryResult{Columns: []string{}, Rows: [][]any{}}}, nil
}

// Columns records the column names.
func (c *Collector) Columns(cols []string) error {
	c.res.Columns = cols
	return nil
}

// Row keeps a copy of vals if it fits the bounds.
func (c *Collector) Row(vals []any) (bool, error) {
	if ok, err := c.admit(vals); !ok {
		return false, err
	}
	row := make([]any, len(vals))
	for i, v := range vals {
		if b, ok := v.([]byte); ok {
			v = slices.Clone(b)
		}
		row[i] = v
	}
	c.res.Rows = append(c.res.Rows, row)
	return true, nil
}

// Result returns what was collected, with rowsAffected.
func (c *Collector) Result(rowsAffected int64) *QueryResult {
	r := c.res
	r.RowsAffected = rowsAffected
	r.Truncated, r.TruncatedBy = c.truncatedBy != "", c.truncatedBy
	return &r
}
