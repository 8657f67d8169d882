package objlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/store"
)

const class = "thing"

// startJetStream runs a real single NATS server with JetStream on a
// temporary directory (fsync on every write) and returns a JetStream
// client of it.
func startJetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	srv, err := server.NewServer(&server.Options{ServerName: "t", DontListen: true, JetStream: true,
		StoreDir: t.TempDir(), SyncAlways: true, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// member is one node's view: its lease epoch (0: none) and its log.
type member struct {
	epoch atomic.Uint64
	log   *Log
	store *store.Store
}

func newMember(t *testing.T, js jetstream.JetStream, epoch uint64, snapMin int64) *member {
	t.Helper()
	m := &member{}
	m.epoch.Store(epoch)
	l, err := Open(t.Context(), Config{JS: js, Replicas: 1, SnapshotMin: snapMin, Logger: slog.New(slog.DiscardHandler),
		Lease: func(string, ids.ID) (uint64, bool) { e := m.epoch.Load(); return e, e > 0 }})
	if err != nil {
		t.Fatal(err)
	}
	m.log = l
	m.store, err = store.Open(store.Config{Dir: t.TempDir(), Synchronous: store.SyncNormal, Log: l})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.store.Close() })
	return m
}

// put writes key=value in one committed event of the object.
func (m *member) put(t *testing.T, id ids.ID, key, value string) error {
	t.Helper()
	db, err := m.store.Open(class, id)
	if err != nil {
		return err
	}
	defer db.Close()
	return commitPut(t.Context(), db, key, value)
}

func commitPut(ctx context.Context, db *store.DB, key, value string) error {
	if err := db.BeginEvent(ctx); err != nil {
		return err
	}
	err := db.Put(ctx, key, []byte(value))
	if endErr := db.EndEvent(err == nil); err == nil {
		err = endErr
	}
	if err != nil {
		db.Rollback()
		return err
	}
	return db.Commit()
}

// get reads key from the object as a new activation on m.
func (m *member) get(t *testing.T, id ids.ID, key string) (string, error) {
	t.Helper()
	db, err := m.store.Open(class, id)
	if err != nil {
		return "", err
	}
	defer db.Close()
	v, _, err := db.Get(t.Context(), key)
	return string(v), err
}

func TestLog_AnotherNodeRestoresEveryAcknowledgedWrite(t *testing.T) {
	js := startJetStream(t)
	a := newMember(t, js, 1, 0)
	id := ids.FromName(class, "x")
	for i := range 50 {
		if err := a.put(t, id, fmt.Sprintf("k%d", i%7), fmt.Sprint(i)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	b := newMember(t, js, 2, 0)
	a.epoch.Store(0) // a lost the shard
	for i := 43; i < 50; i++ {
		got, err := b.get(t, id, fmt.Sprintf("k%d", i%7))
		if err != nil || got != fmt.Sprint(i) {
			t.Fatalf("k%d on the new owner = %q, %v; want %d", i%7, got, err, i)
		}
	}
	if err := a.put(t, id, "k0", "stale"); errcode.Of(err) != errcode.NotOwner {
		t.Fatalf("a write on the old owner after it lost its lease: %v, want not_owner", err)
	}
}

func TestLog_FencedOwnerAcknowledgesNothing(t *testing.T) {
	js := startJetStream(t)
	a := newMember(t, js, 1, 0)
	id := ids.FromName(class, "y")
	db, err := a.store.Open(class, id) // a's live instance
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := commitPut(t.Context(), db, "k", "1"); err != nil {
		t.Fatal(err)
	}
	// b takes over while a still believes it holds the lease (a paused
	// process): b's restore appends a fence record.
	b := newMember(t, js, 2, 0)
	if got, err := b.get(t, id, "k"); err != nil || got != "1" {
		t.Fatalf("b reads %q, %v", got, err)
	}
	err = commitPut(t.Context(), db, "k", "2")
	if errcode.Of(err) != errcode.NotOwner {
		t.Fatalf("the fenced owner's commit: %v, want not_owner", err)
	}
	if got, err := b.get(t, id, "k"); err != nil || got != "1" {
		t.Fatalf("after the fenced commit b reads %q, %v; want 1", got, err)
	}
}

func TestLog_SnapshotsBoundTheLogAndRestore(t *testing.T) {
	js := startJetStream(t)
	a := newMember(t, js, 1, 16<<10)
	id := ids.FromName(class, "z")
	db, err := a.store.Open(class, id)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if err := commitPut(t.Context(), db, fmt.Sprintf("k%d", i%20), fmt.Sprintf("%d-%0300d", i, i)); err != nil {
			t.Fatal(err)
		}
		a.log.MaybeSnapshot(class, id, db)
	}
	db.Close()
	st, err := js.Stream(t.Context(), StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(Subject(class, id)))
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.Subjects[Subject(class, id)]; n == 0 || n > 150 {
		t.Fatalf("the object's log holds %d records after 300 commits with snapshots; want fewer than half", n)
	}
	b := newMember(t, js, 2, 16<<10)
	for i := 280; i < 300; i++ {
		want := fmt.Sprintf("%d-%0300d", i, i)
		if got, err := b.get(t, id, fmt.Sprintf("k%d", i%20)); err != nil || got != want {
			t.Fatalf("k%d from snapshot+log = %.20q, %v", i%20, got, err)
		}
	}
}

func TestLog_TamperedRecordIsRefused(t *testing.T) {
	js := startJetStream(t)
	a := newMember(t, js, 1, 0)
	id := ids.FromName(class, "w")
	for i := range 3 {
		if err := a.put(t, id, "k", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A record that does not follow the chain (a forged or forked history)
	// is appended behind the owner's back.
	forged, _ := seal(KindCommit, 1, Sum{9}, &store.Changes{Size: 1})
	if _, err := js.Publish(t.Context(), Subject(class, id), forged); err != nil {
		t.Fatal(err)
	}
	b := newMember(t, js, 2, 0)
	_, err := b.get(t, id, "k")
	if errcode.Of(err) != errcode.Corrupt {
		t.Fatalf("restore over a forged record: %v, want corrupt", err)
	}
	var e *errcode.Error
	if !errors.As(err, &e) {
		t.Fatalf("not an errcode.Error: %T", err)
	}
}

func TestLog_ReadsOfAMissingObjectCreateNothing(t *testing.T) {
	js := startJetStream(t)
	a := newMember(t, js, 1, 0)
	id := ids.FromName(class, "never")
	if got, err := a.get(t, id, "k"); err != nil || got != "" {
		t.Fatalf("get = %q, %v", got, err)
	}
	st, _ := js.Stream(t.Context(), StreamName)
	if _, err := st.GetLastMsgForSubject(t.Context(), Subject(class, id)); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("a read wrote to the log: %v", err)
	}
}

// An object whose first batch rolled back leaves no file behind: its next
// activation's first commit carries the base, so another node restores it.
func TestLog_RolledBackCreationLeavesNoBaselessHistory(t *testing.T) {
	js := startJetStream(t)
	a := newMember(t, js, 1, 0)
	id := ids.FromName(class, "rolled")
	db, err := a.store.Open(class, id)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := db.BeginEvent(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Put(ctx, "k", []byte("never")); err != nil {
		t.Fatal(err)
	}
	db.EndEvent(false) // the event failed: its writes roll back
	db.Rollback()
	db.Close()
	if err := a.put(t, id, "k", "v"); err != nil {
		t.Fatal(err)
	}
	b := newMember(t, js, 2, 0)
	if got, err := b.get(t, id, "k"); err != nil || got != "v" {
		t.Fatalf("another node reads %q, %v; want v", got, err)
	}
}
