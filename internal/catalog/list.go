package catalog

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/roost-dev/roost/internal/ids"
)

// Sort is the order of [Catalog.List].
type Sort string

// The orders of List. ByKey is ascending; the others are descending, and
// entries with equal values are in ByKey order (class, then ID, ascending).
const (
	ByKey     Sort = "key"     // class, then ID
	BySize    Sort = "size"    // largest first
	ByActive  Sort = "active"  // most recently active first
	ByCreated Sort = "created" // newest first
)

// Limits of [ListOptions.Limit].
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ListOptions selects a page of [Catalog.List].
type ListOptions struct {
	// Class keeps the entries of one class; "" lists every class.
	Class string
	// Sort is the order; "" means ByKey.
	Sort Sort
	// Limit is the most entries a page holds. Zero means 100, and more than
	// 1000 means 1000. Negative is an error.
	Limit int
	// Cursor continues a listing where the page that returned it as
	// [Page.Next] ended; "" starts at the beginning. It is valid only with
	// the Sort it was made for, and with a Class only if it was made for it.
	Cursor string
}

// Page is one page of [Catalog.List].
type Page struct {
	Entries []Entry
	// Next is the cursor of the following page, "" on the last page.
	Next string
}

// sortInfo is what List needs to know of a Sort.
type sortInfo struct {
	code  byte   // in cursors
	col   string // the sorted column, "" for ByKey
	index string // the suffix of its indexes' names: objects_<index> and objects_class_<index>
	// queries, by [class filter][cursor]
	queries [2][2]query
}

// query is a listing statement and how many of List's arguments it takes:
// ?1 limit, ?2 class filter, ?3 cursor class, ?4 cursor ID, ?5 cursor value.
type query struct {
	sql   string
	nargs int
}

var sorts = map[Sort]*sortInfo{
	ByKey:     {code: 1},
	BySize:    {code: 2, col: "size", index: "size"},
	ByActive:  {code: 3, col: "last_active", index: "active"},
	ByCreated: {code: 4, col: "created", index: "created"},
}

func init() {
	for _, s := range sorts {
		for f := range 2 {
			for c := range 2 {
				s.queries[f][c] = newQuery(listSQL(s, f == 1, c == 1))
			}
		}
	}
}

func newQuery(sql string) query {
	n := 0
	for i := 1; i <= 5; i++ {
		if strings.Contains(sql, "?"+strconv.Itoa(i)) {
			n = i
		}
	}
	return query{sql: sql, nargs: n}
}

// listSQL builds the statement of one page. Each one is a range scan of the
// index that matches its order. After a cursor, a sorted listing is two
// scans: the rest of the cursor's run of equal values, in key order, then
// the values below it; each one seeks, so a long run of equal sizes or times
// costs no more than any other page. The index is named (INDEXED BY): without
// statistics, SQLite would rather scan a whole class by primary key than use
// a secondary index of a WITHOUT ROWID table.
func listSQL(s *sortInfo, classFilter, cursor bool) string {
	col, from := s.col, "objects"
	switch {
	case col != "" && classFilter:
		from += " INDEXED BY objects_class_" + s.index
	case col != "":
		from += " INDEXED BY objects_" + s.index
	}
	var where []string
	if classFilter {
		where = append(where, "class = ?2")
	}
	after := "(class, id) > (?3, ?4)"
	if classFilter {
		after = "id > ?4" // the class is fixed: this form seeks in objects_class_*
	}
	order := "class, id"
	if col != "" {
		order = col + " DESC, class, id"
	}
	sel := func(conds ...string) string {
		conds = append(where[:len(where):len(where)], conds...)
		q := "SELECT " + columns + " FROM " + from
		if len(conds) > 0 {
			q += " WHERE " + strings.Join(conds, " AND ")
		}
		return q
	}
	switch {
	case !cursor:
		return sel() + " ORDER BY " + order + " LIMIT ?1"
	case col == "":
		return sel(after) + " ORDER BY " + order + " LIMIT ?1"
	}
	return "SELECT * FROM (" + sel(col+" = ?5", after) + " ORDER BY class, id LIMIT ?1)" +
		" UNION ALL SELECT * FROM (" + sel(col+" < ?5") + " ORDER BY " + order + " LIMIT ?1)" +
		" ORDER BY " + order + " LIMIT ?1"
}

// List returns a page of the committed entries (a change still pending is not
// seen; Flush first to see it). Pages follow one another by keyset: an entry
// added or changed between two pages may be seen twice or not at all, but
// the entries that do not change are each seen exactly once. Errors wrap
// [ErrBadOptions] for an unknown Sort or a negative Limit and [ErrBadCursor]
// for a cursor that List did not make for this Sort and Class.
func (c *Catalog) List(ctx context.Context, o ListOptions) (Page, error) {
	if o.Sort == "" {
		o.Sort = ByKey
	}
	s, ok := sorts[o.Sort]
	switch {
	case !ok:
		return Page{}, fmt.Errorf("catalog: list: %w: unknown sort %q, want key, size, active or created", ErrBadOptions, o.Sort)
	case o.Limit < 0:
		return Page{}, fmt.Errorf("catalog: list: %w: negative limit %d", ErrBadOptions, o.Limit)
	case o.Limit == 0:
		o.Limit = DefaultLimit
	case o.Limit > MaxLimit:
		o.Limit = MaxLimit
	}
	args := []any{o.Limit + 1, o.Class, "", "", int64(0)}
	hasCursor := o.Cursor != ""
	if hasCursor {
		cur, err := decodeCursor(o.Cursor, s)
		if err == nil && o.Class != "" && cur.class != o.Class {
			err = fmt.Errorf("%w: made for class %q", ErrBadCursor, cur.class)
		}
		if err != nil {
			return Page{}, fmt.Errorf("catalog: list: %w", err)
		}
		args[2], args[3], args[4] = cur.class, cur.id.String(), cur.value
	}
	q := s.queries[b2i(o.Class != "")][b2i(hasCursor)]
	page, err := c.list(ctx, q.sql, args[:q.nargs], o.Limit)
	if err != nil {
		return Page{}, fmt.Errorf("catalog: list: %w", err)
	}
	if len(page.Entries) > o.Limit {
		page.Entries = page.Entries[:o.Limit]
		page.Next = cursorAfter(s, page.Entries[o.Limit-1]).encode(s)
	}
	return page, nil
}

// list runs a page's query; it returns up to limit+1 entries, the last of
// which only says that there is a next page.
func (c *Catalog) list(ctx context.Context, sql string, args []any, limit int) (Page, error) {
	rows, err := c.rdb.QueryContext(ctx, sql, args...)
	if err != nil {
		return Page{}, err
	}
	defer rows.Close()
	page := Page{Entries: make([]Entry, 0, min(limit+1, 128))}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return Page{}, err
		}
		page.Entries = append(page.Entries, e)
	}
	return page, rows.Err()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cursorVersion is the first byte of every cursor, so that the format can
// change without misreading old cursors.
const cursorVersion = 1

// cursor is the position after the last entry of a page: its sort value and
// key.
type cursor struct {
	value int64
	class string
	id    ids.ID
}

// cursorAfter returns the position after e in the order of s.
func cursorAfter(s *sortInfo, e Entry) cursor {
	cur := cursor{class: e.Class, id: e.ID}
	switch s.col {
	case "size":
		cur.value = e.Size
	case "last_active":
		cur.value = toMS(e.LastActive)
	case "created":
		cur.value = toMS(e.Created)
	}
	return cur
}

// encode returns cur as a cursor of s: base64url of the version, the sort,
// the sort value as a varint, the class with a uvarint length, and the ID.
func (cur cursor) encode(s *sortInfo) string {
	b := make([]byte, 0, 2+binary.MaxVarintLen64+binary.MaxVarintLen64+len(cur.class)+ids.Size)
	b = append(b, cursorVersion, s.code)
	b = binary.AppendVarint(b, cur.value)
	b = binary.AppendUvarint(b, uint64(len(cur.class)))
	b = append(b, cur.class...)
	b = append(b, cur.id[:]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor that encode made for s. It accepts only what
// encode returns: every cursor has exactly one form.
func decodeCursor(str string, s *sortInfo) (cursor, error) {
	bad := func(why string) (cursor, error) {
		return cursor{}, fmt.Errorf("%w: %s", ErrBadCursor, why)
	}
	b, err := base64.RawURLEncoding.DecodeString(str)
	if err != nil {
		return bad("not base64url")
	}
	if len(b) < 2 || b[0] != cursorVersion {
		return bad("unknown version")
	}
	if b[1] != s.code {
		return bad("made for another sort")
	}
	b = b[2:]
	var cur cursor
	v, n := binary.Varint(b)
	if n <= 0 {
		return bad("truncated")
	}
	cur.value, b = v, b[n:]
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) || uint64(len(b)-n)-l != ids.Size {
		return bad("truncated or too long")
	}
	b = b[n:]
	cur.class = string(b[:l])
	copy(cur.id[:], b[l:])
	// Varints and base64 have other forms of the same values; and a key
	// cursor has no value.
	if (s.col == "" && cur.value != 0) || cur.encode(s) != str {
		return bad("not in canonical form")
	}
	return cur, nil
}
