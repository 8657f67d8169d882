package runtime

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/store"
)

// recordingHooks records what the runtime tells its hooks.
type recordingHooks struct {
	mu      sync.Mutex
	batches []bool // wrote, per AfterBatch
	events  []string
	left    []string
	names   []string
}

func (h *recordingHooks) Activated(o ObjectRef) {}
func (h *recordingHooks) Left(o ObjectRef, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.left = append(h.left, reason)
}
func (h *recordingHooks) AfterBatch(o ObjectRef, db *store.DB, wrote bool, d time.Duration, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.batches = append(h.batches, wrote)
	h.names = append(h.names, o.Name)
}
func (h *recordingHooks) EventDone(class, kind string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, kind)
}

func TestEvent_StorageEventsDoNotConstruct(t *testing.T) {
	r, built := newRuntime(t, Config{})
	id := ids.FromName("c", "s")
	err := r.Deliver(t.Context(), &Event{Class: "c", ID: id, Storage: true, Solo: true,
		Fn: func(ctx context.Context, inst any, db *store.DB) error {
			if inst != nil {
				t.Error("a storage event got an instance")
			}
			return db.Put(ctx, "k", []byte("v")) // commits on its own: no batch is open
		}})
	if err != nil || built.Load() != 0 {
		t.Fatalf("storage event: %v, constructor ran %d times", err, built.Load())
	}
	err = r.Deliver(t.Context(), &Event{Class: "c", ID: id, Fn: func(ctx context.Context, inst any, db *store.DB) error {
		v, ok, err := db.Get(ctx, "k")
		if string(v) != "v" || !ok || err != nil {
			t.Errorf("Get after the storage event = %q, %v, %v", v, ok, err)
		}
		return nil
	}})
	if err != nil || built.Load() != 1 {
		t.Fatalf("event: %v, constructor ran %d times", err, built.Load())
	}
}

func TestEvent_ProbeFalseEndsTheEventUnconstructed(t *testing.T) {
	r, built := newRuntime(t, Config{})
	id := ids.FromName("c", "p")
	ran := false
	for _, want := range []bool{false, true} {
		err := r.Deliver(t.Context(), &Event{Class: "c", ID: id,
			Probe: func(ctx context.Context, db *store.DB) (bool, error) { return want, nil },
			Fn:    func(context.Context, any, *store.DB) error { ran = true; return nil }})
		if err != nil {
			t.Fatal(err)
		}
		if ran != want || built.Load() != map[bool]int64{false: 0, true: 1}[want] {
			t.Fatalf("probe %v: ran %v, constructed %d times", want, ran, built.Load())
		}
	}
}

func TestEvent_SoloRunsAloneAfterEarlierEventsCommit(t *testing.T) {
	h := &recordingHooks{}
	r, _ := newRuntime(t, Config{Hooks: h})
	id := ids.FromName("c", "solo")
	// Block the object so that the next events queue up together.
	release, running := make(chan struct{}), make(chan struct{})
	go r.Do(context.Background(), "c", id, func(context.Context, any) error { close(running); <-release; return nil })
	<-running
	var wg sync.WaitGroup
	put := func(key string) func(ctx context.Context, _ any, db *store.DB) error {
		return func(ctx context.Context, _ any, db *store.DB) error { return db.Put(ctx, key, []byte("v")) }
	}
	sawCommitted := make(chan bool, 1)
	wg.Go(func() { r.Deliver(t.Context(), &Event{Class: "c", ID: id, Fn: put("a")}) })
	waitQueued(t, r, "c", id, 1)
	wg.Go(func() {
		r.Deliver(t.Context(), &Event{Class: "c", ID: id, Storage: true, Solo: true,
			Fn: func(ctx context.Context, _ any, db *store.DB) error {
				// No batch is open: the earlier event's write committed, and a
				// read-only admin query may run.
				_, err := db.AdminQuery(ctx, "SELECT 1", nil, false, 0)
				sawCommitted <- err == nil
				return nil
			}})
	})
	waitQueued(t, r, "c", id, 2)
	wg.Go(func() { r.Deliver(t.Context(), &Event{Class: "c", ID: id, Name: "solo", Fn: put("b")}) })
	waitQueued(t, r, "c", id, 3)
	close(release)
	wg.Wait()
	if !<-sawCommitted {
		t.Fatal("the solo event ran inside a batch")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// The blocking event, "a", then "b": three batches, two with writes; the
	// solo storage event is not the object's activity.
	if len(h.batches) != 3 || h.batches[0] || !h.batches[1] || !h.batches[2] {
		t.Fatalf("batches (wrote) %v, want [false true true]", h.batches)
	}
	if h.names[2] != "solo" {
		t.Errorf("the object's name in hooks: %q", h.names[2])
	}
}

func TestEvent_AfterCommitRunsOnlyForCommittedEvents(t *testing.T) {
	r, _ := newRuntime(t, Config{})
	id := ids.FromName("c", "fx")
	var mu sync.Mutex
	var ran []string
	effect := func(name string) func() {
		return func() { mu.Lock(); ran = append(ran, name); mu.Unlock() }
	}
	// Queue three events behind a blocked one, so that they share a batch:
	// the middle one fails.
	release, running := make(chan struct{}), make(chan struct{})
	go r.Do(context.Background(), "c", id, func(context.Context, any) error { close(running); <-release; return nil })
	<-running
	var wg sync.WaitGroup
	for i, name := range []string{"a", "fail", "b"} {
		wg.Go(func() {
			r.Deliver(t.Context(), &Event{Class: "c", ID: id, Fn: func(ctx context.Context, _ any, db *store.DB) error {
				if err := db.Put(ctx, name, []byte("v")); err != nil {
					return err
				}
				AfterCommit(ctx, effect(name))
				mu.Lock()
				defer mu.Unlock()
				if len(ran) != 0 && name != "b" {
					t.Errorf("an effect ran before its batch committed: %v", ran)
				}
				if name == "fail" {
					return context.Canceled
				}
				return nil
			}})
		})
		waitQueued(t, r, "c", id, i+1)
	}
	close(release)
	wg.Wait()
	mu.Lock()
	if len(ran) != 2 || ran[0] != "a" || ran[1] != "b" {
		t.Fatalf("effects %v, want [a b]: the failed event's effect must never run", ran)
	}
	mu.Unlock()
	AfterCommit(context.Background(), effect("outside")) // no event: at once
	mu.Lock()
	defer mu.Unlock()
	if ran[len(ran)-1] != "outside" {
		t.Fatal("AfterCommit outside an event did not run at once")
	}
}
