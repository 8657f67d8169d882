package objlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/store"
)

// Names in JetStream.
const (
	// StreamName is the stream that holds every object's log.
	StreamName = "ROOST_LOG"
	// subjectPrefix starts each object's subject: roost.obj.<class>.<id>.
	subjectPrefix = "roost.obj."
	// MaxRecordBytes is the largest record: the NATS payload limit the
	// embedded server is configured with. A commit whose pages compress to
	// more fails (limit_exceeded).
	MaxRecordBytes = 8 << 20
	// DefaultTimeout bounds one publish or one read of the log.
	DefaultTimeout = 5 * time.Second
)

// Config configures a [Log].
type Config struct {
	// JS is the JetStream the log lives in. Required.
	JS jetstream.JetStream
	// Replicas of the stream and the snapshot bucket when they are created.
	Replicas int
	// Lease reports the epoch of the shard lease this node holds for the
	// object now, or ok false if it holds none: nothing is restored or
	// acknowledged without one. Required.
	Lease func(class string, id ids.ID) (epoch uint64, ok bool)
	// Timeout bounds one publish or read; default DefaultTimeout.
	Timeout time.Duration
	// SnapshotMin is the least log size (bytes since the last snapshot)
	// that makes a snapshot; the log must also have outgrown the database.
	// Default 1 MiB.
	SnapshotMin int64
	// Observer hears of appends, fences and snapshots (metrics). Optional.
	Observer Observer
	// Logger receives fences and corrupt logs. Required.
	Logger *slog.Logger
}

// Observer hears what the log does, for metrics.
type Observer interface {
	Appended(d time.Duration, bytes int, err error)
	Fenced()
	Restored(d time.Duration, records int, err error)
	Snapshot(bytes int64)
	Corrupt()
}

// Log is the replicated log of every object this node serves: the truth of
// which each object's local SQLite file is a cache. It implements
// store.Log: the store calls Restore before it opens an object and Append
// after each commit, before the commit is acknowledged.
type Log struct {
	cfg    Config
	stream jetstream.Stream
	snaps  jetstream.ObjectStore

	mu   sync.Mutex
	objs map[string]*object // subject → what this node knows of it
}

// object is what a node knows of one object's log while its local file is
// current. Its fields change only in the object's turn (Restore, Append,
// Snapshot run there), so only the map needs the lock.
type object struct {
	epoch    uint64 // the lease epoch it was restored under
	seq      uint64 // the subject's last sequence (0: no record)
	chain    Sum    // the chain's last link
	logBytes int64  // record bytes since the last snapshot
	dbBytes  int64  // the database's size after the last commit
}

// Open makes sure the stream and the snapshot bucket exist and returns the
// log. ctx bounds the setup.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.JS == nil || cfg.Lease == nil || cfg.Logger == nil {
		return nil, errors.New("objlog: config: JS, Lease and Logger are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.SnapshotMin <= 0 {
		cfg.SnapshotMin = 1 << 20
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	l := &Log{cfg: cfg, objs: map[string]*object{}}
	var err error
	if l.stream, err = ensureStream(ctx, cfg.JS, cfg.Replicas); err != nil {
		return nil, err
	}
	if l.snaps, err = ensureSnapshots(ctx, cfg.JS, cfg.Replicas); err != nil {
		return nil, err
	}
	return l, nil
}

func ensureStream(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: StreamName, Subjects: []string{subjectPrefix + ">"}, Storage: jetstream.FileStorage,
		Replicas: replicas, MaxMsgSize: MaxRecordBytes, Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardNew,
		DenyDelete: true,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		s, err = js.Stream(ctx, StreamName)
	}
	if err != nil {
		return nil, fmt.Errorf("objlog: stream %s: %w", StreamName, err)
	}
	return s, nil
}

// Subject returns the subject of an object's log.
func Subject(class string, id ids.ID) string { return subjectPrefix + class + "." + id.String() }

func (l *Log) get(subj string) *object {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.objs[subj]
}

func (l *Log) set(subj string, o *object) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if o == nil {
		delete(l.objs, subj)
	} else {
		l.objs[subj] = o
	}
}

// Forget drops what the node knows of the objects drop selects (after it
// lost their shard): their next activation here restores from the log.
func (l *Log) Forget(drop func(class string, id ids.ID) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for subj := range l.objs {
		if class, id, ok := parseSubject(subj); ok && drop(class, id) {
			delete(l.objs, subj)
		}
	}
}

func parseSubject(subj string) (string, ids.ID, bool) {
	rest := subj[len(subjectPrefix):]
	for i := len(rest) - 1; i >= 0; i-- {
		if rest[i] == '.' {
			id, err := ids.Parse(rest[i+1:])
			return rest[:i], id, err == nil
		}
	}
	return "", ids.ID{}, false
}

// Restore brings the object's local file up to date with its log (see
// store.Log): at once if this node restored it under the lease it holds
// now and has appended every commit since; otherwise from the last
// snapshot and the records after it, each checked against the checksum
// chain, then appends a fence record, so that an owner that missed the
// takeover can append nothing more.
func (l *Log) Restore(class string, id ids.ID, r *store.Restorer) error {
	epoch, ok := l.cfg.Lease(class, id)
	if !ok {
		return errNotOwner(class, id)
	}
	subj := Subject(class, id)
	if o := l.get(subj); o != nil && o.epoch == epoch {
		return nil
	}
	l.set(subj, nil)
	start := time.Now()
	o, n, err := l.rebuild(subj, epoch, r)
	l.cfg.Observer.Restored(time.Since(start), n, err)
	if err != nil {
		return fmt.Errorf("restore %s/%s: %w", class, id, err)
	}
	l.set(subj, o)
	return nil
}

// Append ships a commit's pages to the object's log (see store.Log) with
// the expected last sequence of what this node restored or appended: a
// node that was fenced fails the check. It returns only once JetStream has
// the record on a quorum; after an error the object's local file is no
// longer trusted.
func (l *Log) Append(class string, id ids.ID, ch *store.Changes) error {
	subj := Subject(class, id)
	o := l.get(subj)
	epoch, ok := l.cfg.Lease(class, id)
	if o == nil || !ok || epoch != o.epoch {
		l.set(subj, nil)
		return errNotOwner(class, id)
	}
	data, after := seal(KindCommit, epoch, o.chain, ch)
	if len(data) > MaxRecordBytes {
		l.set(subj, nil)
		return errcode.New(errcode.LimitExceeded, "the batch's changes are %d bytes compressed, over the replicated log's limit of %d: write less per event", len(data), MaxRecordBytes)
	}
	start := time.Now()
	seq, err := l.publish(subj, o.seq, data)
	l.cfg.Observer.Appended(time.Since(start), len(data), err)
	if err != nil {
		l.set(subj, nil)
		return l.publishFailed(class, id, err)
	}
	o.seq, o.chain = seq, after
	o.logBytes += int64(len(data))
	o.dbBytes = int64(ch.Size) * pageSizeOf(ch)
	if now, ok := l.cfg.Lease(class, id); !ok || now != epoch {
		// The record is in the log (the next owner restores it), but this
		// node may acknowledge nothing after its lease: the client must
		// not read the refusal as "not applied".
		l.set(subj, nil)
		// Not not_owner: a node that forwarded the request retries that,
		// and this write is in the log already.
		return errcode.New(errcode.NoQuorum, "this node lost the lease of %s/%s while its commit was published: the write is in the log but was not acknowledged (its outcome is unknown to the caller)", class, id)
	}
	return nil
}

// pageSizeOf returns the page size of a commit's pages (4 KiB if none).
func pageSizeOf(ch *store.Changes) int64 {
	if len(ch.Pages) > 0 {
		return int64(len(ch.Pages[0].Data))
	}
	return 4096
}

// publish appends data to subj if its last sequence is expect, and returns
// the record's sequence. A publish whose outcome is unknown (no answer: a
// stream leader election, a lost connection) is sent again, within
// Config.Timeout: the expected sequence lets at most one try land.
//
// A failed expected-sequence check alone does not prove that the record
// was not stored: an earlier try may have landed, and right after a
// partition heals a stale leader may answer the check while the real one
// stores the record. So the first record after expect decides (see
// settle): this one (success), another one (this one can never land: the
// check's error, "not applied"), or none (no try landed, or none yet:
// publish again).
func (l *Log) publish(subj string, expect uint64, data []byte) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.Timeout)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, min(l.cfg.Timeout/4, attemptTimeout))
		ack, err := l.cfg.JS.Publish(pctx, subj, data, jetstream.WithExpectLastSequencePerSubject(expect),
			jetstream.WithExpectStream(StreamName))
		pcancel()
		switch {
		case err == nil:
			return ack.Sequence, nil
		case wrongLast(err):
			seq, settled, serr := l.settle(ctx, subj, expect, data, err)
			if settled {
				return seq, serr
			}
			err = serr
		case !retryable(err):
			return 0, err
		}
		if ctx.Err() != nil || !clock.Sleep(ctx, 50*time.Millisecond) {
			return 0, err
		}
	}
}

// settle decides a publish whose expected-sequence check failed with
// failed, from the subject's first record after expect: committed records
// never change, so whichever replica answers, that record is final. It
// reports whether that settled the publish; if not, err (an unknown
// outcome, never a failed check) says why.
//
// The record that failed the check may still be on its way to the store
// (the leader checks against the records it is replicating): a record
// that cannot be read yet is looked for again, for up to a second.
func (l *Log) settle(ctx context.Context, subj string, expect uint64, data []byte, failed error) (seq uint64, settled bool, err error) {
	read := func(ctx context.Context) (*jetstream.RawStreamMsg, error) {
		return l.stream.GetMsg(ctx, expect+1, jetstream.WithGetMsgSubject(subj))
	}
	msg, err := retry(ctx, read)
	for try := 0; errors.Is(err, jetstream.ErrMsgNotFound) && try < 20 && clock.Sleep(ctx, 50*time.Millisecond); try++ {
		msg, err = retry(ctx, read)
	}
	switch {
	case err == nil && bytes.Equal(msg.Data, data):
		return msg.Sequence, true, nil // a try landed
	case err == nil:
		return 0, true, failed // another record follows expect: this one was not stored, and cannot be
	default:
		// %v: no longer a failed check, which would say "not applied".
		return 0, false, fmt.Errorf("the log's expected-sequence check failed, and no record follows sequence %d (%v): the outcome is unknown: %v", expect, err, failed)
	}
}

// attemptTimeout bounds one try of a publish. A stream whose leader died
// never answers the tries in flight; its followers elect a new one within
// about two seconds (see internal/natsd), and the next try lands there.
const attemptTimeout = 500 * time.Millisecond

// wrongLast reports a failed expected-sequence check.
func wrongLast(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// retryable reports a publish error whose outcome is unknown.
func retryable(err error) bool {
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrConnectionReconnecting)
}

// publishFailed turns a failed publish into the commit's error.
func (l *Log) publishFailed(class string, id ids.ID, err error) error {
	if wrongLast(err) {
		l.cfg.Observer.Fenced()
		l.cfg.Logger.Warn("fenced: another node appended to the object's log; the commit is not acknowledged",
			"class", class, "id", id.String())
		return &errcode.Error{Code: errcode.NotOwner, Message: fmt.Sprintf("object %s/%s moved to another node while this one committed: the write was not acknowledged; retry", class, id), Err: err}
	}
	return &errcode.Error{Code: errcode.NoQuorum, Message: fmt.Sprintf("the replicated log did not acknowledge the commit of %s/%s (its outcome is unknown): %v", class, id, err), Err: err}
}

func errNotOwner(class string, id ids.ID) error {
	return errcode.New(errcode.NotOwner, "this node does not hold the lease of %s/%s now (the object is moving or the node lost its quorum); retry", class, id)
}

type nopObserver struct{}

func (nopObserver) Appended(time.Duration, int, error) {}
func (nopObserver) Fenced()                            {}
func (nopObserver) Restored(time.Duration, int, error) {}
func (nopObserver) Snapshot(int64)                     {}
func (nopObserver) Corrupt()                           {}
