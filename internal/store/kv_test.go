package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/roost-dev/roost/internal/errcode"
)

func TestKV_GetMissingKeyReportsFalse(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	put(t, db, "a", "1")
	v, ok, err := db.Get(t.Context(), "b")
	if err != nil || ok || v != nil {
		t.Fatalf("Get(missing) = %q, %t, %v; want nil, false, nil", v, ok, err)
	}
}

func TestKV_PutThenGetReturnsValue(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	put(t, db, "greeting", "hello")
	wantValue(t, db, "greeting", "hello")
	db = reopen(t, s, db)
	wantValue(t, db, "greeting", "hello")
}

func TestKV_PutOverwritesValue(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	put(t, db, "k", "first")
	put(t, db, "k", "second")
	wantValue(t, db, "k", "second")
	if got, err := db.List(t.Context(), ListOptions{}); err != nil || len(got) != 1 {
		t.Fatalf("List = %v, %v; want one entry", got, err)
	}
}

func TestKV_GetManyReturnsExistingKeysOnly(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	put(t, db, "a", "1")
	put(t, db, "c", "3")
	got, err := db.GetMany(t.Context(), []string{"a", "b", "c"})
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	want := map[string]string{"a": "1", "c": "3"}
	if len(got) != len(want) {
		t.Fatalf("GetMany = %q, want %q", got, want)
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Fatalf("GetMany[%q] = %q, want %q", k, got[k], v)
		}
	}
}

func TestKV_PutManyStoresAllOrNothing(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{MaxValueSize: 8})
	ctx := t.Context()
	err := db.PutMany(ctx, []Entry{{"a", []byte("1")}, {"b", []byte("2")}, {"c", []byte("too long!")}})
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("PutMany with an oversized value: error = %v, want *LimitError", err)
	}
	wantMissing(t, db, "a")
	wantMissing(t, db, "b")
	if err := db.PutMany(ctx, []Entry{{"a", []byte("1")}, {"b", []byte("2")}}); err != nil {
		t.Fatalf("PutMany: %v", err)
	}
	wantValue(t, db, "a", "1")
	wantValue(t, db, "b", "2")
}

func TestKV_DeleteReportsWhetherKeyExisted(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	ctx := t.Context()
	put(t, db, "a", "1")
	if ok, err := db.Delete(ctx, "a"); err != nil || !ok {
		t.Fatalf("Delete(existing) = %t, %v; want true, nil", ok, err)
	}
	if ok, err := db.Delete(ctx, "a"); err != nil || ok {
		t.Fatalf("Delete(deleted) = %t, %v; want false, nil", ok, err)
	}
	wantMissing(t, db, "a")
}

func TestKV_DeleteManyCountsExistingKeys(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	ctx := t.Context()
	for _, k := range []string{"a", "b", "c"} {
		put(t, db, k, k)
	}
	n, err := db.DeleteMany(ctx, []string{"a", "x", "c", "a"})
	if err != nil || n != 2 {
		t.Fatalf("DeleteMany = %d, %v; want 2, nil", n, err)
	}
	wantMissing(t, db, "a")
	wantValue(t, db, "b", "b")
	wantMissing(t, db, "c")
}

func TestKV_EmptyValueIsStored(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	ctx := t.Context()
	if err := db.Put(ctx, "empty", []byte{}); err != nil {
		t.Fatalf("Put(empty): %v", err)
	}
	if err := db.Put(ctx, "nil", nil); err != nil {
		t.Fatalf("Put(nil): %v", err)
	}
	db = reopen(t, s, db)
	for _, k := range []string{"empty", "nil"} {
		v, ok, err := db.Get(ctx, k)
		if err != nil || !ok || len(v) != 0 {
			t.Fatalf("Get(%q) = %q, %t, %v; want empty, true, nil", k, v, ok, err)
		}
	}
}

func TestKV_BinaryValuesRoundTrip(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{})
	ctx := t.Context()
	val := make([]byte, 0, 512)
	for i := range 512 {
		val = append(val, byte(i)) // every byte value, NUL and 0xff included
	}
	key := "bin\x00\xff\x80key"
	if err := db.Put(ctx, key, val); err != nil {
		t.Fatalf("Put: %v", err)
	}
	db = reopen(t, s, db)
	got, ok, err := db.Get(ctx, key)
	if err != nil || !ok || !bytes.Equal(got, val) {
		t.Fatalf("Get = %x, %t, %v; want %x", got, ok, err, val)
	}
	list, err := db.List(ctx, ListOptions{})
	if err != nil || len(list) != 1 || list[0].Key != key || !bytes.Equal(list[0].Value, val) {
		t.Fatalf("List = %q, %v; want the one binary entry", list, err)
	}
}

// listKeys are stored by the List tests; their byte-wise order is
//
//	a < a\x00 < ab < abc < a\xff < a\xff\xff < b < ba < \xff < \xff\xff < \xff\xffz
var listKeys = []string{"b", "a\xff", "\xff\xffz", "a", "abc", "\xff", "ba", "a\x00", "\xff\xff", "ab", "a\xff\xff"}

func listDB(t testing.TB) *DB {
	t.Helper()
	_, db := newTestDB(t, Config{})
	entries := make([]Entry, len(listKeys))
	for i, k := range listKeys {
		entries[i] = Entry{k, []byte("v:" + k)}
	}
	if err := db.PutMany(t.Context(), entries); err != nil {
		t.Fatalf("PutMany: %v", err)
	}
	return db
}

func TestKV_ListOrdersKeysByteWise(t *testing.T) {
	t.Parallel()
	db := listDB(t)
	got, err := db.List(t.Context(), ListOptions{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	want := slices.Clone(listKeys)
	sort.Strings(want) // Go compares strings byte-wise
	if keys := entryKeys(got); !slices.Equal(keys, want) {
		t.Fatalf("List keys = %q, want %q", keys, want)
	}
	for _, e := range got {
		if string(e.Value) != "v:"+e.Key {
			t.Fatalf("List value of %q = %q, want %q", e.Key, e.Value, "v:"+e.Key)
		}
	}
}

func TestKV_ListSelectsRanges(t *testing.T) {
	t.Parallel()
	db := listDB(t)
	tests := []struct {
		name string
		opts ListOptions
		want []string
	}{
		{name: "prefix", opts: ListOptions{Prefix: "a"}, want: []string{"a", "a\x00", "ab", "abc", "a\xff", "a\xff\xff"}},
		{name: "prefix of two bytes", opts: ListOptions{Prefix: "ab"}, want: []string{"ab", "abc"}},
		{name: "prefix ending in 0xff", opts: ListOptions{Prefix: "a\xff"}, want: []string{"a\xff", "a\xff\xff"}},
		{name: "prefix 0xff", opts: ListOptions{Prefix: "\xff"}, want: []string{"\xff", "\xff\xff", "\xff\xffz"}},
		{name: "prefix all 0xff", opts: ListOptions{Prefix: "\xff\xff"}, want: []string{"\xff\xff", "\xff\xffz"}},
		{name: "prefix matching nothing", opts: ListOptions{Prefix: "zz"}},
		{name: "start inclusive", opts: ListOptions{Start: "ba"}, want: []string{"ba", "\xff", "\xff\xff", "\xff\xffz"}},
		{name: "start between keys", opts: ListOptions{Start: "b\x00"}, want: []string{"ba", "\xff", "\xff\xff", "\xff\xffz"}},
		{name: "end exclusive", opts: ListOptions{End: "ab"}, want: []string{"a", "a\x00"}},
		{name: "start and end", opts: ListOptions{Start: "ab", End: "b"}, want: []string{"ab", "abc", "a\xff", "a\xff\xff"}},
		{name: "start equals end", opts: ListOptions{Start: "b", End: "b"}},
		{name: "start after end", opts: ListOptions{Start: "c", End: "b"}},
		{name: "prefix with start and end", opts: ListOptions{Prefix: "a", Start: "ab", End: "a\xff"}, want: []string{"ab", "abc"}},
		{name: "prefix after end", opts: ListOptions{Prefix: "b", End: "a\xff"}},
		{name: "start after prefix range", opts: ListOptions{Prefix: "a", Start: "b"}},
		{name: "limit", opts: ListOptions{Limit: 3}, want: []string{"a", "a\x00", "ab"}},
		{name: "limit over count", opts: ListOptions{Prefix: "ab", Limit: 100}, want: []string{"ab", "abc"}},
		{name: "reverse", opts: ListOptions{Reverse: true}, want: []string{"\xff\xffz", "\xff\xff", "\xff", "ba", "b", "a\xff\xff", "a\xff", "abc", "ab", "a\x00", "a"}},
		{name: "reverse limit", opts: ListOptions{Reverse: true, Limit: 2}, want: []string{"\xff\xffz", "\xff\xff"}},
		{name: "reverse limit prefix", opts: ListOptions{Reverse: true, Limit: 3, Prefix: "a"}, want: []string{"a\xff\xff", "a\xff", "abc"}},
		{name: "reverse limit prefix 0xff", opts: ListOptions{Reverse: true, Limit: 2, Prefix: "\xff"}, want: []string{"\xff\xffz", "\xff\xff"}},
		{name: "reverse start end", opts: ListOptions{Reverse: true, Start: "b", End: "\xff\xff"}, want: []string{"\xff", "ba", "b"}},
		{name: "reverse empty range", opts: ListOptions{Reverse: true, Start: "b", End: "b", Limit: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := db.List(t.Context(), tt.opts)
			if err != nil {
				t.Fatalf("List(%#v): %v", tt.opts, err)
			}
			if keys := entryKeys(got); !slices.Equal(keys, tt.want) {
				t.Fatalf("List(%#v) keys = %q, want %q", tt.opts, keys, tt.want)
			}
		})
	}
}

func entryKeys(es []Entry) []string {
	var keys []string
	for _, e := range es {
		keys = append(keys, e.Key)
	}
	return keys
}

func TestKV_ReadsOfNewObjectCreateNoFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newStore(t, Config{Dir: dir})
	id := objID("never-written")
	db := openDB(t, s, id)
	ctx := t.Context()
	event(t, db, true, func(ctx context.Context) {
		if _, ok, err := db.Get(ctx, "a"); ok || err != nil {
			t.Fatalf("Get = %t, %v; want false, nil", ok, err)
		}
		if m, err := db.GetMany(ctx, []string{"a", "b"}); len(m) != 0 || err != nil {
			t.Fatalf("GetMany = %v, %v; want empty", m, err)
		}
		if l, err := db.List(ctx, ListOptions{Prefix: "a", Reverse: true}); len(l) != 0 || err != nil {
			t.Fatalf("List = %v, %v; want empty", l, err)
		}
		if ok, err := db.Delete(ctx, "a"); ok || err != nil {
			t.Fatalf("Delete = %t, %v; want false, nil", ok, err)
		}
		if n, err := db.DeleteMany(ctx, []string{"a", "b"}); n != 0 || err != nil {
			t.Fatalf("DeleteMany = %d, %v; want 0, nil", n, err)
		}
		if err := db.DeleteAll(ctx); err != nil {
			t.Fatalf("DeleteAll: %v", err)
		}
	})
	commit(t, db)
	if _, ok, err := db.Get(ctx, "a"); ok || err != nil {
		t.Fatalf("Get outside event = %t, %v; want false, nil", ok, err)
	}
	wantExists(t, s, id, false)
	db = reopen(t, s, db)
	wantExists(t, s, id, false)
	entries, err := os.ReadDir(filepath.Join(dir, objectsDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("objects directory holds %v, want nothing", entries)
	}
}

func TestKV_ClosedDBReturnsErrClosed(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	put(t, db, "a", "1")
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := t.Context()
	if _, _, err := db.Get(ctx, "a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
	if err := db.Put(ctx, "a", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after Close: %v, want ErrClosed", err)
	}
	if _, err := db.Query(ctx, "SELECT 1"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Query after Close: %v, want ErrClosed", err)
	}
	if err := db.BeginEvent(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("BeginEvent after Close: %v, want ErrClosed", err)
	}
}

func TestKV_CanceledContextFailsCall(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{})
	put(t, db, "a", "1")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := db.Put(ctx, "b", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with canceled ctx: %v, want context.Canceled", err)
	}
	if _, _, err := db.Get(ctx, "a"); errcode.Of(err) != errcode.Canceled {
		t.Fatalf("Get with canceled ctx: %v, want code canceled", err)
	}
	wantMissing(t, db, "b")
}
