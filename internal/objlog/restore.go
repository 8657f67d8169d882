package objlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/store"
)

// rebuild restores the object's local file from its snapshot and records,
// then fences the log. It returns what the node now knows of the object and
// how many records it read.
func (l *Log) rebuild(subj string, epoch uint64, r *store.Restorer) (*object, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.Timeout)
	defer cancel()
	last, err := l.lastSeq(ctx, subj)
	if err != nil {
		return nil, 0, unavailable("read the log's last sequence", err)
	}
	snap, err := l.loadSnapshot(ctx, subj)
	if err != nil {
		return nil, 0, err
	}
	o, n, err := l.replay(ctx, subj, last, snap, r)
	if err != nil {
		return nil, n, err
	}
	if err := r.Finish(); err != nil {
		return nil, n, fmt.Errorf("install the restored file: %w", err)
	}
	o.epoch = epoch
	if last == 0 {
		// No record: the object does not exist. Reads create nothing; its
		// first commit expects an empty subject, which fences creation.
		return o, n, nil
	}
	return o, n, l.fence(subj, o)
}

// replay feeds the snapshot and the records after it, up to last, to r,
// checking the chain: each record must follow the link before it, and
// epochs never decrease.
func (l *Log) replay(ctx context.Context, subj string, last uint64, snap *snapshot, r *store.Restorer) (*object, int, error) {
	o := &object{}
	var base []byte
	next := uint64(1)
	if snap != nil {
		base, next, o.chain, o.seq = snap.image, snap.seq+1, snap.chain, snap.seq
		o.dbBytes = int64(len(snap.image))
	}
	if err := r.Start(base); err != nil {
		return nil, 0, fmt.Errorf("start the restore: %w", err)
	}
	if snap != nil && snap.seq > last {
		return nil, 0, l.corrupt(subj, fmt.Errorf("the snapshot covers sequence %d but the log ends at %d", snap.seq, last))
	}
	var epoch uint64
	n := 0
	for next <= last {
		msg, err := retry(ctx, func(ctx context.Context) (*jetstream.RawStreamMsg, error) {
			return l.stream.GetMsg(ctx, next, jetstream.WithGetMsgSubject(subj))
		})
		if err != nil {
			return nil, n, unavailable("read the log", err)
		}
		if msg.Sequence > last {
			break
		}
		n++
		rec, err := Decode(msg.Data)
		if err == nil {
			err = follows(rec, o.chain, epoch, o.seq == 0 && snap == nil)
		}
		if err != nil {
			return nil, n, l.corrupt(subj, fmt.Errorf("record %d: %w", msg.Sequence, err))
		}
		if rec.Kind == KindCommit {
			if err := r.Apply(rec.Changes); err != nil {
				return nil, n, l.corrupt(subj, fmt.Errorf("record %d: apply: %w", msg.Sequence, err))
			}
			o.dbBytes = int64(rec.Changes.Size) * pageSizeOf(rec.Changes)
		}
		o.logBytes += int64(len(msg.Data))
		o.seq, o.chain, epoch, next = msg.Sequence, rec.After, rec.Epoch, msg.Sequence+1
	}
	if o.seq != last {
		return nil, n, l.corrupt(subj, fmt.Errorf("the log ends at %d but its records end at %d", last, o.seq))
	}
	return o, n, nil
}

// follows checks that rec continues the chain after link, written under an
// epoch no older than the last one. The first record of a log with no
// snapshot must start the chain.
func follows(rec *Record, link Sum, epoch uint64, first bool) error {
	switch {
	case first && rec.Before != (Sum{}):
		return errors.New("the log's first record does not start the chain: records before it are missing (and no snapshot covers them)")
	case rec.Before != link:
		return errors.New("the checksum chain breaks: a record is missing, altered or from another history")
	case rec.Epoch < epoch:
		return fmt.Errorf("epoch %d after epoch %d", rec.Epoch, epoch)
	}
	return nil
}

// fence appends a fence record after what the node restored: a node that
// still thinks it owns the object fails its next append.
func (l *Log) fence(subj string, o *object) error {
	data, after := seal(KindFence, o.epoch, o.chain, nil)
	seq, err := l.publish(subj, o.seq, data)
	if err != nil {
		return &errcode.Error{Code: errcode.NotOwner, Message: "another node wrote the object's log while this one restored it; retry", Err: err}
	}
	o.seq, o.chain = seq, after
	o.logBytes += int64(len(data))
	return nil
}

// lastSeq returns the sequence of the subject's last record, asked of the
// stream's leader (never a follower's possibly stale copy); 0 if none.
func (l *Log) lastSeq(ctx context.Context, subj string) (uint64, error) {
	msg, err := retry(ctx, func(ctx context.Context) (*jetstream.RawStreamMsg, error) {
		return l.stream.GetLastMsgForSubject(ctx, subj)
	})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return msg.Sequence, nil
}

// retry runs read, in tries of at most attemptTimeout within ctx, until
// it gets an answer: a read sent to a stream whose leader just died is
// never answered, and the next try reaches the new one.
func retry[T any](ctx context.Context, read func(context.Context) (T, error)) (T, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		v, err := read(actx)
		cancel()
		if err == nil || ctx.Err() != nil || !retryable(err) || !clock.Sleep(ctx, 50*time.Millisecond) {
			return v, err
		}
	}
}

// corrupt reports a log that does not verify: loudly (an error log line
// and a metric), and as an error that keeps the object from being served.
func (l *Log) corrupt(subj string, err error) error {
	l.cfg.Observer.Corrupt()
	l.cfg.Logger.Error("object log does not verify: the object is refused, never served from it", "subject", subj, "err", err)
	return &errcode.Error{Code: errcode.Corrupt, Message: fmt.Sprintf("the object's replicated log does not verify (%v); it is not served", err), Err: err}
}

func unavailable(what string, err error) error {
	return &errcode.Error{Code: errcode.NoQuorum, Message: fmt.Sprintf("%s: %v", what, err), Err: err}
}
