package catalog

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
)

// fill writes n entries over classes a, b and c, whose sizes and times repeat
// so that every sort has long runs of ties, and returns them.
func fill(t testing.TB, c *Catalog, n int) []Entry {
	t.Helper()
	classes := []string{"a", "b", "c"}
	entries := make([]Entry, 0, n)
	for i := range n {
		k := key(classes[i%len(classes)], i)
		e := Entry{Class: k.Class, ID: k.ID, Created: t0.Add(time.Duration(i%5) * time.Second),
			LastActive: t0.Add(time.Duration(i%13) * time.Minute), Size: int64(i%7) * 4096}
		if i%11 == 0 {
			e.LastActive = time.Time{} // never active: sorts last
		}
		c.Update(Update{Key: k, Created: e.Created, LastActive: e.LastActive, Size: e.Size, SetSize: true})
		entries = append(entries, e)
	}
	flush(t, c)
	return entries
}

// order sorts entries the way List does.
func order(entries []Entry, s Sort) {
	value := func(e Entry) int64 {
		switch s {
		case BySize:
			return e.Size
		case ByActive:
			return toMS(e.LastActive)
		case ByCreated:
			return toMS(e.Created)
		}
		return 0
	}
	slices.SortFunc(entries, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(value(b), value(a)), cmp.Compare(a.Class, b.Class), slices.Compare(a.ID[:], b.ID[:]))
	})
}

func TestList_PagesThroughEveryEntryOnceInOrder(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	all := fill(t, c, 2500)
	for _, s := range []Sort{"", ByKey, BySize, ByActive, ByCreated} {
		for _, class := range []string{"", "b"} {
			t.Run("sort="+string(s)+"/class="+class, func(t *testing.T) {
				t.Parallel()
				var want []Entry
				for _, e := range all {
					if class == "" || e.Class == class {
						want = append(want, e)
					}
				}
				order(want, s)
				got := listAll(t, c, ListOptions{Class: class, Sort: s, Limit: 100})
				if len(got) != len(want) {
					t.Fatalf("listed %d entries, want %d", len(got), len(want))
				}
				for i := range want {
					if got[i].Key() != want[i].Key() {
						t.Fatalf("entry %d is %s, want %s", i, show(got[i]), show(want[i]))
					}
					sameEntry(t, got[i], want[i])
				}
			})
		}
	}
}

// listAll pages through a listing, checking each page's size.
func listAll(t testing.TB, c *Catalog, o ListOptions) []Entry {
	t.Helper()
	var all []Entry
	for {
		page, err := c.List(t.Context(), o)
		if err != nil {
			t.Fatalf("list %+v: %v", o, err)
		}
		all = append(all, page.Entries...)
		if page.Next == "" {
			if len(page.Entries) > o.Limit {
				t.Fatalf("last page has %d entries, limit %d", len(page.Entries), o.Limit)
			}
			return all
		}
		if len(page.Entries) != o.Limit {
			t.Fatalf("page with a next has %d entries, want %d", len(page.Entries), o.Limit)
		}
		o.Cursor = page.Next
	}
}

func TestList_DefaultAndMaximumLimit(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	fill(t, c, 1100)
	tests := []struct {
		name  string
		limit int
		want  int
	}{
		{name: "zero means 100", limit: 0, want: 100},
		{name: "over 1000 means 1000", limit: 5000, want: 1000},
		{name: "one", limit: 1, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			page, err := c.List(t.Context(), ListOptions{Sort: BySize, Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Entries) != tt.want || page.Next == "" {
				t.Fatalf("page of %d entries, next %q; want %d and a next", len(page.Entries), page.Next, tt.want)
			}
		})
	}
}

func TestList_EmptyCatalog(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	page, err := c.List(t.Context(), ListOptions{Sort: ByActive})
	if err != nil || len(page.Entries) != 0 || page.Next != "" {
		t.Fatalf("List = %+v, %v; want an empty last page", page, err)
	}
}

func TestList_RejectsBadCursors(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	fill(t, c, 30)
	next := func(o ListOptions) string {
		page, err := c.List(t.Context(), o)
		if err != nil || page.Next == "" {
			t.Fatalf("List(%+v) = next %q, %v", o, page.Next, err)
		}
		return page.Next
	}
	bySize := next(ListOptions{Sort: BySize, Limit: 2})
	ofA := next(ListOptions{Class: "a", Limit: 2})
	tests := []struct {
		name string
		o    ListOptions
	}{
		{name: "not base64", o: ListOptions{Cursor: "!!!"}},
		{name: "garbage", o: ListOptions{Cursor: "AAAA"}},
		{name: "truncated", o: ListOptions{Sort: BySize, Cursor: bySize[:len(bySize)-3]}},
		{name: "trailing bytes", o: ListOptions{Sort: BySize, Cursor: bySize + "AA"}},
		{name: "another sort", o: ListOptions{Sort: ByActive, Cursor: bySize}},
		{name: "another class", o: ListOptions{Class: "b", Cursor: ofA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.List(t.Context(), tt.o)
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("List = %v, want ErrBadCursor", err)
			}
			if code := errcode.Of(err); code != errcode.BadRequest {
				t.Fatalf("code = %q, want %q", code, errcode.BadRequest)
			}
		})
	}
	// The class cursor still works without a filter: it is a position.
	if _, err := c.List(t.Context(), ListOptions{Cursor: ofA}); err != nil {
		t.Fatalf("List without class, class cursor: %v", err)
	}
}

func TestList_RejectsBadOptions(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	tests := []struct {
		name string
		o    ListOptions
		want string
	}{
		{name: "unknown sort", o: ListOptions{Sort: "name"}, want: `unknown sort "name"`},
		{name: "negative limit", o: ListOptions{Limit: -1}, want: "negative limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.List(t.Context(), tt.o)
			if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("List = %v, want ErrBadOptions saying %q", err, tt.want)
			}
			if code := errcode.Of(err); code != errcode.BadRequest {
				t.Fatalf("code = %q, want %q", code, errcode.BadRequest)
			}
		})
	}
}

func TestListSQL_UsesAnIndexForEveryOrder(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	for name, s := range sorts {
		for f := range 2 {
			for cur := range 2 {
				q := s.queries[f][cur]
				args := []any{101, "a", "a", key("a", 1).ID.String(), int64(5)}[:q.nargs]
				rows, err := c.rdb.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q.sql, args...)
				if err != nil {
					t.Fatal(err)
				}
				var plan []string
				for rows.Next() {
					var id, parent, notused int
					var detail string
					if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
						t.Fatal(err)
					}
					plan = append(plan, detail)
				}
				rows.Close()
				p := strings.Join(plan, "; ")
				want := "PRIMARY KEY"
				if s.col != "" {
					want = "INDEX objects_" + strings.Repeat("class_", f) + s.index
				}
				for _, step := range plan {
					// Reading the table in key order is the first page by key.
					keyScan := s.col == "" && f == 0 && cur == 0 && step == "SCAN objects"
					if strings.Contains(step, "objects") && !strings.Contains(step, want) && !keyScan {
						t.Errorf("sort=%s filter=%d cursor=%d: step %q does not use %s", name, f, cur, step, want)
					}
					// Sorting is fine only over the two halves of a page.
					if strings.Contains(step, "TEMP B-TREE") && cur == 0 {
						t.Errorf("sort=%s filter=%d cursor=%d: plan sorts: %q", name, f, cur, p)
					}
				}
				t.Logf("sort=%s filter=%d cursor=%d: %s", name, f, cur, p)
			}
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add("", byte(2))
	f.Add("AQIKAWEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", byte(2))
	f.Add(cursor{value: 4096, class: "counter", id: key("counter", 1).ID}.encode(sorts[BySize]), byte(2))
	f.Add(cursor{class: "a", id: key("a", 1).ID}.encode(sorts[ByKey]), byte(1))
	f.Add(cursor{value: -1, class: "", id: key("a", 1).ID}.encode(sorts[ByActive]), byte(3))
	byCode := map[byte]*sortInfo{}
	for _, s := range sorts {
		byCode[s.code] = s
	}
	f.Fuzz(func(t *testing.T, str string, code byte) {
		s, ok := byCode[code]
		if !ok {
			return
		}
		cur, err := decodeCursor(str, s)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("error %v does not wrap ErrBadCursor", err)
			}
			return
		}
		if got := cur.encode(s); got != str {
			t.Fatalf("accepted %q, which encodes back as %q", str, got)
		}
	})
}
