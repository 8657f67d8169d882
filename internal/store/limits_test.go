package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roost-dev/roost/internal/errcode"
)

// wantLimit fails the test unless err is a *LimitError for limit, with code
// limit_exceeded.
func wantLimit(t testing.TB, err error, limit string) *LimitError {
	t.Helper()
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("error = %v, want a *LimitError", err)
	}
	if le.Limit != limit {
		t.Fatalf("LimitError.Limit = %q, want %q (%v)", le.Limit, limit, err)
	}
	wantCode(t, err, errcode.LimitExceeded)
	return le
}

func TestLimits_KeyOverMaxKeySizeIsRefused(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{MaxKeySize: 16})
	ctx := t.Context()
	ok := strings.Repeat("k", 16)
	long := strings.Repeat("k", 17)
	if err := db.Put(ctx, ok, []byte("v")); err != nil {
		t.Fatalf("Put of a key at the limit: %v", err)
	}
	le := wantLimit(t, db.Put(ctx, long, []byte("v")), "key size")
	if le.Max != 16 || le.Got != 17 {
		t.Fatalf("LimitError = %+v, want Max 16, Got 17", le)
	}
	_, _, err := db.Get(ctx, long)
	wantLimit(t, err, "key size")
	wantLimit(t, db.PutMany(ctx, []Entry{{"a", nil}, {long, nil}}), "key size")
	wantMissing(t, db, "a")
	wantValue(t, db, ok, "v")
}

func TestLimits_ValueOverMaxValueSizeIsRefused(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{MaxValueSize: 1024})
	ctx := t.Context()
	if err := db.Put(ctx, "at-limit", make([]byte, 1024)); err != nil {
		t.Fatalf("Put of a value at the limit: %v", err)
	}
	le := wantLimit(t, db.Put(ctx, "over", make([]byte, 1025)), "value size")
	if le.Max != 1024 || le.Got != 1025 {
		t.Fatalf("LimitError = %+v, want Max 1024, Got 1025", le)
	}
	wantMissing(t, db, "over")
}

func TestLimits_SQLBlobOverMaxValueSizeIsRefused(t *testing.T) {
	t.Parallel()
	_, db := newTestDB(t, Config{MaxValueSize: 1024})
	ctx := t.Context()
	exec(t, ctx, db, "CREATE TABLE t (b BLOB)")
	exec(t, ctx, db, "INSERT INTO t VALUES (?)", make([]byte, 1024))
	_, err := db.Exec(ctx, "INSERT INTO t VALUES (?)", make([]byte, 1025))
	wantLimit(t, err, "value size")
	_, err = db.Exec(ctx, "INSERT INTO t VALUES (?)", strings.Repeat("x", 1025))
	wantLimit(t, err, "value size")
	// A blob made by SQL itself is bounded too.
	_, err = db.Exec(ctx, "INSERT INTO t VALUES (zeroblob(1 << 20))")
	wantLimit(t, err, "value size")
	if n := queryInt(t, db, "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("rows = %d, want 1", n)
	}
}

// endFailedBatch ends an event whose write failed with code want, and its
// batch. SQLite may have rolled back the whole batch (it does on SQLITE_FULL
// for a statement without a statement journal): then EndEvent and Commit
// report that error again, and the DB must be closed.
func endFailedBatch(t testing.TB, db *DB, want errcode.Code) {
	t.Helper()
	if err := db.EndEvent(false); err != nil && errcode.Of(err) != want {
		t.Fatalf("EndEvent(false) = %v, want nil or code %s", err, want)
	}
	if err := db.Commit(); err != nil && errcode.Of(err) != want {
		t.Fatalf("Commit = %v, want nil or code %s", err, want)
	}
}

func TestLimits_FullDatabaseFailsEventAndKeepsCommittedData(t *testing.T) {
	t.Parallel()
	const maxSize = 256 << 10
	s, db := newTestDB(t, Config{MaxDatabaseSize: maxSize})
	ctx := t.Context()
	put(t, db, "committed", "1")
	exec(t, ctx, db, "CREATE TABLE t (b BLOB)")
	exec(t, ctx, db, "INSERT INTO t VALUES (randomblob(64 << 10))")

	if err := db.BeginEvent(ctx); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; err == nil; i++ {
		if i == 10 {
			t.Fatal("inserted 640 KiB into a 256 KiB database")
		}
		_, err = db.Exec(ctx, "INSERT INTO t VALUES (randomblob(64 << 10))")
	}
	le := wantLimit(t, err, "database size")
	if le.Max != maxSize {
		t.Fatalf("LimitError.Max = %d, want %d", le.Max, maxSize)
	}
	endFailedBatch(t, db, errcode.LimitExceeded)

	db = reopen(t, s, db)
	wantValue(t, db, "committed", "1")
	if n := queryInt(t, db, "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("rows = %d after the failed event, want 1", n)
	}
	wantIntegrity(t, db)
	// The space of the rolled-back event is free again.
	put(t, db, "after", "2")
	exec(t, ctx, db, "INSERT INTO t VALUES (randomblob(64 << 10))")
	db = reopen(t, s, db)
	wantValue(t, db, "after", "2")
	wantIntegrity(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(s.cfg.Dir, Path(testClass, db.ID())))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > maxSize {
		t.Fatalf("database file is %d bytes, over the %d limit", fi.Size(), maxSize)
	}
}

func TestLimits_FullDatabaseFailsKVPut(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{MaxDatabaseSize: 256 << 10})
	ctx := t.Context()
	val := make([]byte, 64<<10)
	var err error
	n := 0
	for ; n < 10; n++ {
		if err = db.Put(ctx, fmt.Sprintf("k%d", n), val); err != nil {
			break
		}
	}
	wantLimit(t, err, "database size")
	if n == 0 {
		t.Fatal("the first 64 KiB value did not fit")
	}
	db = reopen(t, s, db) // the failed write may have broken the DB
	list, lerr := db.List(ctx, ListOptions{})
	if lerr != nil || len(list) != n {
		t.Fatalf("List = %d entries, %v; want the %d that fit", len(list), lerr, n)
	}
	wantIntegrity(t, db)
}

func TestLimits_PutManyOverDatabaseSizeStoresNothing(t *testing.T) {
	t.Parallel()
	s, db := newTestDB(t, Config{MaxDatabaseSize: 256 << 10})
	ctx := t.Context()
	put(t, db, "committed", "1")
	var entries []Entry
	for i := range 8 {
		entries = append(entries, Entry{fmt.Sprintf("k%d", i), make([]byte, 64<<10)})
	}
	if err := db.BeginEvent(ctx); err != nil {
		t.Fatal(err)
	}
	wantLimit(t, db.PutMany(ctx, entries), "database size")
	// A handler may catch the error and go on: if the batch is still usable,
	// none of the failed PutMany's entries may be left in it.
	l, err := db.List(ctx, ListOptions{Prefix: "k"})
	if err == nil && len(l) != 0 {
		t.Fatalf("List after the failed PutMany = %d entries, want none", len(l))
	}
	if err != nil {
		wantCode(t, err, errcode.LimitExceeded) // the batch was rolled back
	}
	endFailedBatch(t, db, errcode.LimitExceeded)
	db = reopen(t, s, db)
	wantValue(t, db, "committed", "1")
	wantMissing(t, db, "k0")
	wantIntegrity(t, db)
}

func TestLimits_ConfigIsChecked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "no dir", cfg: Config{}, wantErr: "Dir: must be set"},
		{name: "bad sync", cfg: Config{Dir: "x", Synchronous: "off"}, wantErr: `Synchronous: must be "full" or "normal"`},
		{name: "negative key", cfg: Config{Dir: "x", MaxKeySize: -1}, wantErr: "limits must be positive"},
		{name: "tiny database", cfg: Config{Dir: "x", MaxDatabaseSize: 4096}, wantErr: "MaxDatabaseSize ≥ 64 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(tt.cfg)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%+v): nil error", tt.cfg)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Open(%+v) = %v, want an error containing %q", tt.cfg, err, tt.wantErr)
			}
		})
	}
	s := newStore(t, Config{})
	cfg := s.Config()
	if cfg.Synchronous != SyncFull || cfg.MaxKeySize != DefaultMaxKeySize || cfg.MaxValueSize != DefaultMaxValueSize || cfg.MaxDatabaseSize != DefaultMaxDatabaseSize {
		t.Fatalf("defaults = %+v", cfg)
	}
}
