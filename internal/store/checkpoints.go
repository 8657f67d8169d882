package store

import (
	"context"
	"sync"
	"time"
)

// DefaultCheckpointAfter is how long an object stays out of memory before
// its WAL is checkpointed into its database and truncated (see
// [Config.CheckpointAfter]).
const DefaultCheckpointAfter = time.Minute

// maxCheckpointsQueued bounds the objects waiting for their checkpoint:
// beyond it, an object that leaves keeps its WAL until it leaves again.
const maxCheckpointsQueued = 100_000

// checkpointer shrinks the files of objects that left memory: a connection
// does not checkpoint when it closes (the next activation's first commit
// then appends to the WAL instead of writing and syncing a new header), so
// an object's WAL stays as long as its last activation made it. Once the
// object has been out of memory for the configured time, a background
// goroutine copies its WAL into the database and truncates it, off every
// event's path. Opening the object waits for a checkpoint in progress and
// cancels a pending one. At startup, a scan queues the objects whose WAL a
// previous run left (they left memory before it stopped), as if they had
// just left.
type checkpointer struct {
	s     *Store
	after time.Duration

	mu sync.Mutex
	// queue holds the objects in the order they left; an entry whose time
	// differs from pending's for its path is stale (the object came back).
	queue   []leftAt
	pending map[string]time.Time
	// busy holds, per object being checkpointed, a channel closed when done.
	busy map[string]chan struct{}
	// open counts, per object, its DBs that Store.Open is making or made and
	// that are not closed: an open object is never checkpointed.
	open map[string]int

	wake    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
	scanned sync.WaitGroup // the startup scan
}

// leftAt is an entry of checkpointer.queue.
type leftAt struct {
	path string
	at   time.Time
}

func startCheckpointer(s *Store, after time.Duration) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{s: s, after: after, pending: map[string]time.Time{}, busy: map[string]chan struct{}{}, open: map[string]int{},
		wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	c.scanned.Add(1)
	go c.loop(ctx)
	go c.scan(ctx)
	return c
}

// scan queues the objects on disk whose WAL is not empty, while fewer than
// half the bound wait: a data directory of millions of objects is worked
// through at the checkpoints' pace. An object open meanwhile is skipped:
// its close queues it.
func (c *checkpointer) scan(ctx context.Context) {
	defer c.scanned.Done()
	_ = c.s.Walk(func(f ObjectFile) error {
		for c.queued() > maxCheckpointsQueued/2 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if f.WALSize > 0 {
			c.enqueue(Path(f.Class, f.ID))
		}
		return nil
	})
}

// queued returns the number of objects waiting for their checkpoint.
func (c *checkpointer) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// take is called before an object's files are opened: it waits for the
// object's checkpoint if one runs, and cancels a pending one. Its DB's
// close calls left, or, if the open fails, release.
func (c *checkpointer) take(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		ch, ok := c.busy[path]
		if !ok {
			break
		}
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
	}
	delete(c.pending, path)
	c.open[path]++
}

// release ends a take whose open failed.
func (c *checkpointer) release(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closedLocked(path)
}

func (c *checkpointer) closedLocked(path string) {
	if c.open[path]--; c.open[path] <= 0 {
		delete(c.open, path)
	}
}

// left queues the checkpoint of an object whose database was closed.
func (c *checkpointer) left(path string) {
	c.mu.Lock()
	c.closedLocked(path)
	c.mu.Unlock()
	c.enqueue(path)
}

// enqueue queues the checkpoint of an object that is not open.
func (c *checkpointer) enqueue(path string) {
	now := time.Now()
	c.mu.Lock()
	if len(c.pending) >= maxCheckpointsQueued || c.open[path] > 0 {
		c.mu.Unlock()
		return
	}
	c.pending[path] = now
	c.queue = append(c.queue, leftAt{path, now})
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// close stops the goroutine, after the checkpoint in progress. Objects
// still queued keep their WAL until they leave memory again.
func (c *checkpointer) close() {
	c.cancel()
	<-c.done
	c.scanned.Wait()
}

func (c *checkpointer) loop(ctx context.Context) {
	defer close(c.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		path, wait := c.next()
		if path != "" {
			c.checkpoint(path)
			c.mu.Lock()
			close(c.busy[path])
			delete(c.busy, path)
			c.mu.Unlock()
			if ctx.Err() != nil {
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-timer.C:
		}
	}
}

// next takes the first object whose time out of memory is up, marking it
// busy; or it returns how long to wait for the first one.
func (c *checkpointer) next() (string, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queue) > 0 {
		e := c.queue[0]
		if at, ok := c.pending[e.path]; !ok || !at.Equal(e.at) {
			c.pop() // stale: the object came back since
			continue
		}
		if wait := time.Until(e.at.Add(c.after)); wait > 0 {
			return "", wait
		}
		c.pop()
		delete(c.pending, e.path)
		c.busy[e.path] = make(chan struct{})
		return e.path, 0
	}
	return "", time.Hour
}

// pop drops the queue's first entry, releasing the array's memory once the
// queue is drained. Caller holds mu.
func (c *checkpointer) pop() {
	c.queue[0] = leftAt{}
	c.queue = c.queue[1:]
	if len(c.queue) == 0 {
		c.queue = nil
	}
}

// checkpoint copies the object's WAL into its database and truncates it.
// It is best effort: on a failure (a full disk, say) the WAL stays, and
// SQLite's recovery reads it at the next activation as always.
func (c *checkpointer) checkpoint(path string) {
	fi, err := c.s.root.Stat(path + "-wal")
	if err != nil || fi.Size() == 0 {
		return // removed since, or already empty
	}
	conn, err := c.s.dial(path, false)
	if err != nil {
		return
	}
	defer conn.Close()
	// The WAL file stays (empty): the next activation does not create it.
	if conn.SetFileControlInt("main", sqliteFcntlPersistWAL, 1) != nil {
		return
	}
	if _, err := conn.Exec(`PRAGMA synchronous=`+string(c.s.cfg.Synchronous), nil); err != nil {
		return
	}
	_, _ = selectInt(conn, `PRAGMA wal_checkpoint(TRUNCATE)`)
}
