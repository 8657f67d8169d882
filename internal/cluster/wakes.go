package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/roost-dev/roost/internal/ids"
)

// WakesBucket is the KV bucket of the cluster's wake index: per object
// with timers, a time at or before its earliest timer and the lease epoch
// of the owner that wrote it ("<unix ms> <epoch>"), under the key
// s<shard>.<class>.<id>. It is the cluster's durable copy of what a single
// node keeps in its catalog: the node that takes a shard over loads the
// shard's wakes from it, so alarms, timers and cron of a failed node's
// objects fire on their new owner.
const WakesBucket = "ROOST_WAKES"

func openWakes(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: WakesBucket, Storage: jetstream.FileStorage,
		Replicas: replicas, History: 1})
	if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		kv, err = js.KeyValue(ctx, WakesBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: wake index: %w", err)
	}
	return kv, nil
}

func (c *Cluster) wakeKey(class string, id ids.ID) string {
	return "s" + strconv.Itoa(c.shardOf(class, id)) + "." + class + "." + id.String()
}

// SetWake makes the object's wake durable in the cluster before the
// commit that needs it. epoch is the lease epoch under which this node owns
// the object's shard.
func (c *Cluster) SetWake(class string, id ids.ID, at time.Time, epoch uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Lease)
	defer cancel()
	if _, err := c.wakes.Put(ctx, c.wakeKey(class, id), formatWake(at, epoch)); err != nil {
		return unavailableErr("record the object's wake in the cluster", err)
	}
	return nil
}

// ClearWake forgets the wake of an object that has no timer left, as its
// owner at epoch found after a commit. A wake written under a later epoch
// stays: a new owner wrote it, and the caller lost the shard since its
// commit. It is best effort: a stale wake only makes its owner look for
// due timers and find none.
func (c *Cluster) ClearWake(class string, id ids.ID, epoch uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Lease)
	defer cancel()
	key := c.wakeKey(class, id)
	e, err := c.wakes.Get(ctx, key)
	if err != nil {
		return // none, or the index cannot be read: a wake too many is harmless
	}
	if _, _, _, written, ok := parseWake(e.Key(), e.Value()); ok && written > epoch {
		return
	}
	// Only if no one wrote the wake since it was read.
	_ = c.wakes.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
}

// Wakes calls fn with every wake of shard's objects.
func (c *Cluster) Wakes(ctx context.Context, shard int, fn func(class string, id ids.ID, at time.Time)) error {
	w, err := c.wakes.WatchFiltered(ctx, []string{"s" + strconv.Itoa(shard) + ".>"}, jetstream.IgnoreDeletes())
	if err != nil {
		return unavailableErr("read the shard's wakes", err)
	}
	defer w.Stop()
	for {
		select {
		case e := <-w.Updates():
			if e == nil {
				return nil
			}
			if class, id, at, _, ok := parseWake(e.Key(), e.Value()); ok {
				fn(class, id, at)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func formatWake(at time.Time, epoch uint64) []byte {
	b := strconv.AppendInt(nil, at.UnixMilli(), 10)
	b = append(b, ' ')
	return strconv.AppendUint(b, epoch, 10)
}

// parseWake reads an entry of the wake index. An entry without an epoch
// (written by an earlier version) has epoch 0.
func parseWake(key string, value []byte) (class string, id ids.ID, at time.Time, epoch uint64, ok bool) {
	parts := strings.Split(key, ".")
	if len(parts) != 3 {
		return "", ids.ID{}, time.Time{}, 0, false
	}
	id, err := ids.Parse(parts[2])
	ms, rest, _ := strings.Cut(string(value), " ")
	n, perr := strconv.ParseInt(ms, 10, 64)
	var eerr error
	if rest != "" {
		epoch, eerr = strconv.ParseUint(rest, 10, 64)
	}
	return parts[1], id, time.UnixMilli(n), epoch, err == nil && perr == nil && eerr == nil
}
