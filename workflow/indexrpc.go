package workflow

import (
	"context"
	"time"

	"github.com/roost-dev/roost"
)

// The index class's RPC methods: the reports and listings of a node that
// does not own a workflow's index object, in cluster mode (see remote.go).
var (
	indexWrite = roost.NewMethod("workflow.index.write", (*indexObject).serveWrite)
	indexList  = roost.NewMethod("workflow.index.list", (*indexObject).serveList)
)

// listQuery is a listing of an index: its rows in Status (all if empty)
// with IDs after After, at most Limit of them, once Pending (reports of
// the asking node) are written.
type listQuery struct {
	Pending []entry `json:"pending,omitempty"`
	Status  string  `json:"status,omitempty"`
	After   string  `json:"after,omitempty"`
	Limit   int     `json:"limit"`
}

func (o *indexObject) serveWrite(ctx context.Context, entries []entry) (struct{}, error) {
	return struct{}{}, o.upsert(ctx, entries)
}

func (o *indexObject) serveList(ctx context.Context, q listQuery) ([]Summary, error) {
	if err := o.upsert(ctx, q.Pending); err != nil {
		return nil, err
	}
	return o.query(ctx, q)
}

// query reads the rows of a listing (q.Pending aside). Each form walks
// one index from the cursor on (the primary key, or instances_by_status),
// so a page costs the same at any size and for any status, however rare.
func (o *indexObject) query(ctx context.Context, q listQuery) ([]Summary, error) {
	sql, args := `SELECT id, status, created, updated FROM instances WHERE id > ?1 ORDER BY id LIMIT ?2`, []any{q.After, q.Limit}
	if q.Status != "" {
		sql = `SELECT id, status, created, updated FROM instances WHERE status = ?3 AND id > ?1 ORDER BY id LIMIT ?2`
		args = append(args, q.Status)
	}
	rows, err := o.st.Storage().Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Summary{}
	for rows.Next() {
		var s Summary
		var created, updated int64
		if err := rows.Scan(&s.ID, &s.Status, &created, &updated); err != nil {
			return nil, err
		}
		s.Created, s.Updated = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
		out = append(out, s)
	}
	return out, rows.Err()
}
