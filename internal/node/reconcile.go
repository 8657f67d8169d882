package node

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/roost-dev/roost/internal/catalog"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/store"
)

// reconcile brings the catalog up to date with the objects on disk: after
// a crash it may lack objects created since its last flush (their timers
// included) and hold objects whose files were removed.
func (n *Node) reconcile(ctx context.Context) error {
	start := time.Now()
	level, why := slog.LevelInfo, "after an unclean shutdown"
	if n.catalog.New() {
		level, why = slog.LevelDebug, "new catalog"
	}
	n.log.Log(ctx, level, "catalog: checking the objects on disk", "why", why)
	onDisk := map[catalog.Key]catalog.DiskInfo{}
	err := n.store.Walk(func(f store.ObjectFile) error {
		onDisk[catalog.Key{Class: f.Class, ID: f.ID}] = catalog.DiskInfo{Size: f.Size, Modified: f.Modified}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	missing, err := n.catalog.Reconcile(ctx, onDisk)
	full := errcode.Of(err) == errcode.StorageFull
	if full {
		missing, err = n.catalog.Missing(ctx, onDisk)
	}
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		level = slog.LevelInfo
	}
	for i, k := range missing {
		if err := n.indexObject(ctx, k, onDisk[k]); err != nil {
			return err
		}
		if (i+1)%10000 == 0 {
			n.log.Info("catalog: indexing objects", "done", i+1, "of", len(missing))
		}
	}
	if err := n.catalog.Flush(ctx); errcode.Of(err) == errcode.StorageFull {
		full = true
	} else if err != nil {
		return err
	}
	if full {
		// The server must start on a full disk, so that the operator can
		// remove data (issue 12). The catalog keeps the changes it could
		// not write and writes them once there is room; the objects it
		// lacked have their wakes scheduled from memory (see start). The
		// next start checks the disk again.
		n.log.Warn("catalog: the disk is full: the inventory is written once there is room; remove objects (roost objects rm) to free space",
			"objects", len(onDisk), "indexed", len(missing))
		return nil
	}
	n.indexed = nil // the catalog has them: start loads them from it
	n.log.Log(ctx, level, "catalog: up to date", "objects", len(onDisk), "indexed", len(missing), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// indexObject reads an object's timers and size into the catalog. It runs
// before the runtime starts, so it may open the object directly (not in
// cluster mode: see below).
func (n *Node) indexObject(ctx context.Context, k catalog.Key, f catalog.DiskInfo) error {
	if n.cluster != nil {
		// The file is a cache of the object's log, which only the owner
		// of its shard may open (restore), and the cluster's wake index
		// holds its timers (loaded with each shard this node takes).
		n.catalog.Update(catalog.Update{Key: k, Created: f.Modified, LastActive: f.Modified, Size: f.Size, SetSize: true})
		return nil
	}
	db, err := n.store.Open(k.Class, k.ID)
	if err != nil {
		return fmt.Errorf("index %s/%s: %w", k.Class, k.ID, err)
	}
	defer db.Close()
	next, count, err := db.NextTimer(ctx)
	if err != nil {
		return fmt.Errorf("index %s/%s: %w", k.Class, k.ID, err)
	}
	size, err := db.Size()
	if err != nil {
		size = f.Size
	}
	n.catalog.Update(catalog.Update{Key: k, Created: f.Modified, LastActive: f.Modified, Size: size, SetSize: true,
		Wake: &catalog.Wake{At: next, Timers: count}})
	if !next.IsZero() {
		n.indexed = append(n.indexed, indexedWake{k, next, count})
	}
	return nil
}

// indexedWake is the next wake of an object that the startup check indexed.
type indexedWake struct {
	key   catalog.Key
	at    time.Time
	count int
}
