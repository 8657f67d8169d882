package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/roost-dev/roost/internal/ids"
)

// DiskInfo is what an object's files on disk say about it.
type DiskInfo struct {
	// Size is the size of its storage in bytes.
	Size int64
	// Modified is the last modification time of its files; zero if unknown.
	Modified time.Time
}

// Reconcile makes the catalog match the objects on disk, for a start after a
// crash, which may have lost lazy changes. Call it before any Update: rows
// whose key is not in onDisk are deleted, and present rows get Size from
// onDisk and LastActive at least Modified. It returns, sorted by class and
// ID, the keys in onDisk that have no row; the caller opens those objects and
// sends their Updates (and SetWake for their timers). The pending changes are
// written first; Reconcile then runs in one transaction of its own.
func (c *Catalog) Reconcile(ctx context.Context, onDisk map[Key]DiskInfo) ([]Key, error) {
	var missing []Key
	err := c.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		missing, err = reconcile(ctx, tx, tx.StmtContext(ctx, c.stmts.delete), onDisk)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: reconcile: %w", err)
	}
	return missing, nil
}

// storedRow is the part of a row that Reconcile compares with the disk.
type storedRow struct {
	class, id    string
	size, active int64
}

func reconcile(ctx context.Context, tx *sql.Tx, del *sql.Stmt, onDisk map[Key]DiskInfo) ([]Key, error) {
	stored, err := storedRows(ctx, tx)
	if err != nil {
		return nil, err
	}
	refresh, err := tx.PrepareContext(ctx,
		`UPDATE objects SET size = ?3, last_active = max(last_active, ?4) WHERE class = ?1 AND id = ?2`)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	defer refresh.Close()
	present := make(map[Key]bool, len(stored))
	for _, r := range stored {
		id, err := ids.Parse(r.id)
		k := Key{Class: r.class, ID: id}
		info, ok := onDisk[k]
		if err != nil || !ok { // a row with a broken ID matches no file either
			if _, err := del.ExecContext(ctx, r.class, r.id); err != nil {
				return nil, fmt.Errorf("delete %s/%s: %w", r.class, r.id, err)
			}
			continue
		}
		present[k] = true
		if modified := toMS(info.Modified); info.Size != r.size || modified > r.active {
			if _, err := refresh.ExecContext(ctx, r.class, r.id, info.Size, modified); err != nil {
				return nil, fmt.Errorf("refresh %s: %w", k, err)
			}
		}
	}
	return missingFrom(onDisk, present), nil
}

// Missing returns, sorted by class and ID, the keys in onDisk that have no
// row, from the committed rows: what Reconcile returns, for a disk too full
// for Reconcile's writes. It changes nothing.
func (c *Catalog) Missing(ctx context.Context, onDisk map[Key]DiskInfo) ([]Key, error) {
	stored, err := storedRows(ctx, c.rdb)
	if err != nil {
		return nil, fmt.Errorf("catalog: missing: %w", err)
	}
	present := make(map[Key]bool, len(stored))
	for _, r := range stored {
		if id, err := ids.Parse(r.id); err == nil {
			present[Key{Class: r.class, ID: id}] = true
		}
	}
	return missingFrom(onDisk, present), nil
}

// missingFrom returns, sorted, the keys of onDisk not in present.
func missingFrom(onDisk map[Key]DiskInfo, present map[Key]bool) []Key {
	var missing []Key
	for k := range onDisk {
		if !present[k] {
			missing = append(missing, k)
		}
	}
	slices.SortFunc(missing, compareKeys)
	return missing
}

// querier is a transaction or a pool.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// storedRows reads every row's key, size and last activity.
func storedRows(ctx context.Context, tx querier) ([]storedRow, error) {
	rows, err := tx.QueryContext(ctx, `SELECT class, id, size, last_active FROM objects`)
	if err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	defer rows.Close()
	var stored []storedRow
	for rows.Next() {
		var r storedRow
		if err := rows.Scan(&r.class, &r.id, &r.size, &r.active); err != nil {
			return nil, fmt.Errorf("read rows: %w", err)
		}
		stored = append(stored, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	return stored, nil
}
