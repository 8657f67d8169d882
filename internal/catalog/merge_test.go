package catalog

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/roost-dev/roost/internal/clock"
)

func TestMerge_UpdateAfterSetWakeWins(t *testing.T) {
	t.Parallel()
	c, g := openGated(t, Config{}, nil)
	k := key("counter", 1)
	done := make(chan error, 1)
	go func() { done <- c.SetWake(t.Context(), k, t0) }()
	<-g.entered // the SetWake is pending; the writer waits to take it
	c.Update(Update{Key: k, Wake: &Wake{At: t0.Add(time.Hour), Timers: 4}})
	g.open()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, _ := storedEntry(t, c.cfg.Path, k)
	if !got.NextWake.Equal(t0.Add(time.Hour)) || got.Timers != 4 {
		t.Fatalf("stored %s, want wake t0+1h with 4 timers", show(got))
	}
	if txs := c.txs.Load(); txs != 1 {
		t.Errorf("transactions = %d, want 1", txs)
	}
}

func TestMerge_RemoveAfterUpdateDeletes(t *testing.T) {
	t.Parallel()
	c := openTest(t, Config{}, nil)
	k := key("counter", 1)
	c.Update(Update{Key: k, Name: "a"})
	flush(t, c)
	c.Update(Update{Key: k, Size: 5, SetSize: true})
	c.Remove(k)
	flush(t, c)
	if got, ok := storedEntry(t, c.cfg.Path, k); ok {
		t.Fatalf("row %s still stored after Update, Remove", show(got))
	}
}

func TestMerge_UpdateAfterRemoveCreatesAFreshRow(t *testing.T) {
	t.Parallel()
	vc := clock.NewVirtual(t0)
	c := openTest(t, Config{Clock: vc}, nil)
	a, b := key("counter", 1), key("counter", 2)
	for _, k := range []Key{a, b} {
		c.Update(Update{Key: k, Name: "old", Created: t0.Add(-time.Hour), Size: 9, SetSize: true, Wake: &Wake{At: t0, Timers: 1}})
	}
	flush(t, c)
	vc.Advance(time.Minute)
	c.Remove(a)
	c.Update(Update{Key: a, Created: t0.Add(time.Second)})
	c.Remove(b)
	c.Update(Update{Key: b, LastActive: t0})
	flush(t, c)
	got, _ := storedEntry(t, c.cfg.Path, a)
	sameEntry(t, got, Entry{Class: a.Class, ID: a.ID, Created: t0.Add(time.Second)})
	got, _ = storedEntry(t, c.cfg.Path, b)
	sameEntry(t, got, Entry{Class: b.Class, ID: b.ID, Created: t0.Add(time.Minute), LastActive: t0})
}

func TestPending_Merge(t *testing.T) {
	t.Parallel()
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	ms := func(minutes int) int64 { return at(minutes).UnixMilli() }
	tests := []struct {
		name  string
		steps []func(*pending)
		want  pending
	}{
		{
			name:  "lower keeps the earlier",
			steps: []func(*pending){lowerTo(ms(2)), lowerTo(ms(1)), lowerTo(ms(3))},
			want:  pending{upsert: true, wake: wakeLower, wakeAt: ms(1), timers: 1},
		},
		{
			name:  "set after lower wins",
			steps: []func(*pending){lowerTo(ms(1)), updateWake(at(5), 3)},
			want:  pending{upsert: true, wake: wakeSet, wakeAt: ms(5), timers: 3},
		},
		{
			name:  "lower after set to none sets",
			steps: []func(*pending){updateWake(time.Time{}, 0), lowerTo(ms(4))},
			want:  pending{upsert: true, wake: wakeSet, wakeAt: ms(4), timers: 1},
		},
		{
			name:  "lower after a later set lowers and keeps the count",
			steps: []func(*pending){updateWake(at(9), 5), lowerTo(ms(4))},
			want:  pending{upsert: true, wake: wakeSet, wakeAt: ms(4), timers: 5},
		},
		{
			name:  "remove drops earlier fields",
			steps: []func(*pending){updateName("a"), func(p *pending) { *p = pending{removed: true} }},
			want:  pending{removed: true},
		},
		{
			name:  "update after remove keeps the remove",
			steps: []func(*pending){func(p *pending) { *p = pending{removed: true} }, updateName("b")},
			want:  pending{removed: true, upsert: true, name: "b"},
		},
		{
			name:  "empty name keeps the pending name",
			steps: []func(*pending){updateName("a"), updateName("")},
			want:  pending{upsert: true, name: "a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p pending
			for _, step := range tt.steps {
				step(&p)
			}
			if p != tt.want {
				t.Fatalf("merged %+v, want %+v", p, tt.want)
			}
			// then, used to put a failed batch back, merges the same way.
			for split := range len(tt.steps) + 1 {
				var older, newer pending
				for _, step := range tt.steps[:split] {
					step(&older)
				}
				for _, step := range tt.steps[split:] {
					step(&newer)
				}
				older.then(newer)
				if older != tt.want {
					t.Fatalf("then at %d: %+v, want %+v", split, older, tt.want)
				}
			}
		})
	}
}

func lowerTo(at int64) func(*pending) { return func(p *pending) { p.lower(at) } }

func updateWake(at time.Time, timers int) func(*pending) {
	return func(p *pending) { p.update(&Update{Wake: &Wake{At: at, Timers: timers}}) }
}

func updateName(name string) func(*pending) {
	return func(p *pending) { p.update(&Update{Name: name}) }
}

func TestGet_SeesPendingChanges(t *testing.T) {
	t.Parallel()
	vc := clock.NewVirtual(t0)
	c := openTest(t, Config{Clock: vc}, nil)
	k, gone := key("counter", 1), key("counter", 2)
	c.Update(Update{Key: k, Name: "room", Created: t0, Size: 10, SetSize: true})
	c.Update(Update{Key: gone, Name: "x"})
	flush(t, c)
	c.Update(Update{Key: k, LastActive: t0.Add(time.Second), Wake: &Wake{At: t0.Add(time.Hour), Timers: 2}})
	c.Remove(gone)
	sameEntry(t, get(t, c, k), Entry{Class: k.Class, ID: k.ID, Name: "room", Created: t0,
		LastActive: t0.Add(time.Second), Size: 10, NextWake: t0.Add(time.Hour), Timers: 2})
	if _, ok, _ := c.Get(t.Context(), gone); ok {
		t.Error("Get sees a row with a pending Remove")
	}
	fresh := key("counter", 3)
	c.Update(Update{Key: fresh, LastActive: t0})
	sameEntry(t, get(t, c, fresh), Entry{Class: fresh.Class, ID: fresh.ID, Created: t0, LastActive: t0})
	if _, ok, _ := c.Get(t.Context(), key("counter", 4)); ok {
		t.Error("Get finds a key that was never written")
	}
}

func TestGet_SeesABatchBeingWritten(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c := openTest(t, Config{}, &hooks{writeErr: func() error {
		once.Do(func() { close(entered); <-release })
		return nil
	}})
	k := key("counter", 1)
	c.Update(Update{Key: k, Name: "room"})
	done := make(chan error, 1)
	go func() { done <- c.Flush(t.Context()) }()
	<-entered // the batch is written, not committed
	if got := get(t, c, k); got.Name != "room" {
		t.Errorf("Get during the flush: name %q, want room", got.Name)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestGet_MergeMatchesTheFlush checks that what Get shows of a pending change
// is what the flush then writes, for every kind of change, over a missing
// row and over a stored one.
func TestGet_MergeMatchesTheFlush(t *testing.T) {
	t.Parallel()
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	ms := func(minutes int) int64 { return at(minutes).UnixMilli() }
	remove := func(p *pending) { *p = pending{removed: true} }
	changes := []struct {
		name  string
		steps []func(*pending)
	}{
		{name: "lower earlier", steps: []func(*pending){lowerTo(ms(60))}},
		{name: "lower later", steps: []func(*pending){lowerTo(ms(180))}},
		{name: "set none", steps: []func(*pending){updateWake(time.Time{}, 0)}},
		{name: "set then lower", steps: []func(*pending){updateWake(time.Time{}, 0), lowerTo(ms(5))}},
		{name: "remove", steps: []func(*pending){remove}},
		{name: "remove then name", steps: []func(*pending){remove, updateName("new")}},
		{name: "every field", steps: []func(*pending){func(p *pending) {
			p.update(&Update{Name: "n", Created: at(-5), LastActive: at(7), Size: 77, SetSize: true, Wake: &Wake{At: at(9), Timers: 2}})
		}}},
	}
	for _, stored := range []bool{false, true} {
		for i, tt := range changes {
			t.Run(tt.name+"/stored="+strconv.FormatBool(stored), func(t *testing.T) {
				t.Parallel()
				c := openTest(t, Config{Clock: clock.NewVirtual(t0)}, nil)
				k := key("counter", i)
				if stored {
					c.Update(Update{Key: k, Name: "old", Created: at(-60), LastActive: at(-1), Size: 5, SetSize: true,
						Wake: &Wake{At: at(120), Timers: 3}})
					flush(t, c)
				}
				var p pending
				for _, step := range tt.steps {
					step(&p)
				}
				c.mu.Lock()
				c.pending[k] = p
				c.mu.Unlock()
				merged, mergedOK, err := c.Get(t.Context(), k)
				if err != nil {
					t.Fatal(err)
				}
				flush(t, c)
				written, writtenOK := storedEntry(t, c.cfg.Path, k)
				if mergedOK != writtenOK {
					t.Fatalf("Get before the flush found=%v, the flush wrote found=%v", mergedOK, writtenOK)
				}
				if writtenOK {
					sameEntry(t, merged, written)
				}
			})
		}
	}
}
