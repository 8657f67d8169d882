package workflow

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/internal/errcode"
)

// maxBufferedBytes bounds the keys and values one attempt of a standalone
// instance's step writes (see bufferedKV).
const maxBufferedBytes = 16 << 20

// bufferedKV is the KV of a standalone instance in a step's attempt, which
// runs outside any event of its partition: reads go to the partition (an
// event each), seen through the attempt's own writes, which wait in memory
// until the attempt's outcome commits them with the step's record (see
// run.attemptOut). No one else writes the instance's keys meanwhile: only
// its one run does, one step at a time.
type bufferedKV struct {
	r *run

	mu     sync.Mutex
	writes map[string]kvWrite
	bytes  int
}

// kvWrite is a buffered write: a value, or a delete.
type kvWrite struct {
	value []byte
	del   bool
}

func (kv *bufferedKV) prefix() string { return kv.r.home.prefix + kvPrefix }

// buffered returns the attempt's write of key, if it wrote it.
func (kv *bufferedKV) buffered(key string) (kvWrite, bool) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	w, ok := kv.writes[key]
	return w, ok
}

func (kv *bufferedKV) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if w, ok := kv.buffered(key); ok {
		return w.value, !w.del, nil
	}
	var v []byte
	var ok bool
	err := kv.r.e.do(ctx, kv.r.home, func(ctx context.Context, p place) (err error) {
		v, ok, err = p.st.Get(ctx, kv.prefix()+key)
		return err
	})
	return v, ok, err
}

func (kv *bufferedKV) Put(ctx context.Context, key string, value []byte) error {
	return kv.write(key, kvWrite{value: slices.Clone(value)})
}

func (kv *bufferedKV) Delete(ctx context.Context, key string) (bool, error) {
	_, ok, err := kv.Get(ctx, key)
	if err != nil {
		return false, err
	}
	return ok, kv.write(key, kvWrite{del: true})
}

func (kv *bufferedKV) write(key string, w kvWrite) error {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if kv.bytes+len(key)+len(w.value) > maxBufferedBytes {
		return errcode.New(errcode.LimitExceeded, "workflow: a step's writes to its instance's storage: more than %d bytes", maxBufferedBytes)
	}
	if kv.writes == nil {
		kv.writes = map[string]kvWrite{}
	}
	kv.writes[key] = w
	kv.bytes += len(key) + len(w.value)
	return nil
}

func (kv *bufferedKV) List(ctx context.Context, opts *roost.ListOptions) ([]roost.Entry, error) {
	var o roost.ListOptions
	if opts != nil {
		o = *opts
	}
	kv.mu.Lock()
	writes := maps.Clone(kv.writes)
	kv.mu.Unlock()
	// Ask for as many more as the attempt deleted: what remains of them
	// still fills the page.
	q := prefixed(kv.prefix(), &o)
	if q.Limit > 0 {
		q.Limit += len(writes)
	}
	var stored []roost.Entry
	err := kv.r.e.do(ctx, kv.r.home, func(ctx context.Context, p place) (err error) {
		stored, err = p.st.List(ctx, &q)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]roost.Entry, 0, len(stored)+len(writes))
	for _, en := range stored {
		en.Key = en.Key[len(kv.prefix()):]
		if _, ok := writes[en.Key]; !ok {
			out = append(out, en)
		}
	}
	for key, w := range writes {
		if !w.del && strings.HasPrefix(key, o.Prefix) && key >= o.Start && (o.End == "" || key < o.End) {
			out = append(out, roost.Entry{Key: key, Value: w.value})
		}
	}
	slices.SortFunc(out, func(a, b roost.Entry) int {
		if o.Reverse {
			return strings.Compare(b.Key, a.Key)
		}
		return strings.Compare(a.Key, b.Key)
	})
	if o.Limit > 0 && len(out) > o.Limit {
		out = out[:o.Limit]
	}
	return out, nil
}

// empty reports whether the attempt wrote nothing.
func (kv *bufferedKV) empty() bool {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	return len(kv.writes) == 0
}

// commit writes the attempt's writes under the instance's prefix, in the
// event of its outcome.
func (kv *bufferedKV) commit(ctx context.Context, p place) error {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	var puts []roost.Entry
	var dels []string
	for key, w := range kv.writes {
		if w.del {
			dels = append(dels, kv.prefix()+key)
		} else {
			puts = append(puts, roost.Entry{Key: kv.prefix() + key, Value: w.value})
		}
	}
	if len(puts) > 0 {
		if err := p.st.PutMany(ctx, puts); err != nil {
			return err
		}
	}
	if len(dels) > 0 {
		_, err := p.st.DeleteMany(ctx, dels)
		return err
	}
	return nil
}
