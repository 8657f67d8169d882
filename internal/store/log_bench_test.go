package store

import (
	"fmt"
	"testing"

	"github.com/roost-dev/roost/internal/ids"
)

// nopLog is a Log that does nothing: what the store itself costs per
// commit in cluster mode, before the log's own work.
type nopLog struct{}

func (nopLog) Restore(string, ids.ID, *Restorer) error { return nil }
func (nopLog) Append(string, ids.ID, *Changes) error   { return nil }

// BenchmarkStore_CommitWithLog measures a single write's commit (one event,
// one Put of 128 bytes) without a Log and with a Log that does nothing, in
// the replicated mode's likely durability (normal: the log is the truth).
func BenchmarkStore_CommitWithLog(b *testing.B) {
	for _, mode := range []Sync{SyncFull, SyncNormal} {
		for _, name := range []string{"none", "nop"} {
			b.Run("sync="+string(mode)+"/log="+name, func(b *testing.B) {
				cfg := Config{Synchronous: mode}
				if name == "nop" {
					cfg.Log = nopLog{}
				}
				_, db := newTestDB(b, cfg)
				val := make([]byte, 128)
				b.SetBytes(int64(len(val)))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					put(b, db, fmt.Sprintf("k%08d", i), string(val))
				}
			})
		}
	}
}
