package objlog

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roost-dev/roost/internal/ids"
)

// SnapshotBucket is the object store that holds each object's latest
// snapshot, named by the object's subject.
const SnapshotBucket = "ROOST_SNAP"

// Headers of a snapshot: the last record it covers and the chain's link
// after it.
const (
	hdrSeq   = "Roost-Seq"
	hdrChain = "Roost-Chain"
)

// snapshot is a consistent copy of an object's database as of record seq.
type snapshot struct {
	seq   uint64
	chain Sum
	image []byte
}

func ensureSnapshots(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.ObjectStore, error) {
	os, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: SnapshotBucket,
		Storage: jetstream.FileStorage, Replicas: replicas})
	if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		os, err = js.ObjectStore(ctx, SnapshotBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("objlog: snapshot bucket: %w", err)
	}
	return os, nil
}

// loadSnapshot returns the object's snapshot, or nil if it has none.
func (l *Log) loadSnapshot(ctx context.Context, subj string) (*snapshot, error) {
	res, err := l.snaps.Get(ctx, subj)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("read the snapshot", err)
	}
	defer res.Close()
	image, err := io.ReadAll(res)
	if err != nil {
		// The object store checks the digest: a damaged snapshot fails here.
		return nil, l.corrupt(subj, fmt.Errorf("read the snapshot: %w", err))
	}
	info, err := res.Info()
	if err != nil {
		return nil, unavailable("read the snapshot's metadata", err)
	}
	s := &snapshot{image: image}
	if err := parseSnapHeaders(info.Headers.Get(hdrSeq), info.Headers.Get(hdrChain), s); err != nil {
		return nil, l.corrupt(subj, err)
	}
	return s, nil
}

func parseSnapHeaders(seq, chain string, s *snapshot) error {
	var err error
	if s.seq, err = strconv.ParseUint(seq, 10, 64); err != nil || s.seq == 0 {
		return fmt.Errorf("snapshot: bad %s %q", hdrSeq, seq)
	}
	b, err := hex.DecodeString(chain)
	if err != nil || len(b) != len(s.chain) {
		return fmt.Errorf("snapshot: bad %s %q", hdrChain, chain)
	}
	copy(s.chain[:], b)
	return nil
}

// Imager writes a consistent copy of an object's database (store.DB).
type Imager interface {
	Image(w io.Writer) error
}

// MaybeSnapshot snapshots the object if its log has outgrown both
// Config.SnapshotMin and its database: the image goes to the snapshot
// bucket, then the records it covers are purged (all but the last, which
// keeps the subject's last sequence). It runs in the object's turn, after
// a commit. A failure is logged and retried after the next commit; the log
// stays correct without it.
func (l *Log) MaybeSnapshot(class string, id ids.ID, db Imager) {
	subj := Subject(class, id)
	o := l.get(subj)
	if o == nil || o.seq == 0 || o.logBytes < max(l.cfg.SnapshotMin, o.dbBytes) {
		return
	}
	if err := l.snapshot(subj, o, db); err != nil {
		l.cfg.Logger.Warn("snapshot failed; the log keeps growing until one succeeds", "subject", subj, "err", err)
		return
	}
	o.logBytes = 0
}

func (l *Log) snapshot(subj string, o *object, db Imager) error {
	var buf bytes.Buffer
	if err := db.Image(&buf); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*l.cfg.Timeout)
	defer cancel()
	meta := jetstream.ObjectMeta{Name: subj, Headers: map[string][]string{
		hdrSeq: {strconv.FormatUint(o.seq, 10)}, hdrChain: {hex.EncodeToString(o.chain[:])}}}
	if _, err := l.snaps.Put(ctx, meta, bytes.NewReader(buf.Bytes())); err != nil {
		return fmt.Errorf("store the snapshot: %w", err)
	}
	l.cfg.Observer.Snapshot(int64(buf.Len()))
	if err := l.stream.Purge(ctx, jetstream.WithPurgeSubject(subj), jetstream.WithPurgeSequence(o.seq)); err != nil {
		return fmt.Errorf("purge the records the snapshot covers: %w", err)
	}
	return nil
}
