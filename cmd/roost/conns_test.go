package main

import (
	"strings"
	"testing"

	"github.com/roost-dev/roost/internal/listen"
)

func TestListenConfig_ClientConnectionsGetWhatObjectsLeave(t *testing.T) {
	t.Parallel()
	all, err := listen.Budget(0)
	if err != nil {
		t.Fatal(err)
	}
	objectsShare := filesPerObject*100 + ownFiles
	tests := []struct {
		name    string
		o       serveOptions
		want    int
		wantErr string
	}{
		{"default: the open-file limit's share", serveOptions{maxActive: 100}, all - objectsShare, ""},
		{"explicit within it", serveOptions{maxActive: 100, maxConns: 10}, 10, ""},
		{"explicit over it", serveOptions{maxActive: 100, maxConns: all}, 0, "does not fit the open-file limit"},
		{"objects take everything", serveOptions{maxActive: all}, 0, "lower --max-active"},
		{"negative", serveOptions{maxConns: -1}, 0, "--max-conns must be ≥ 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lc, err := tt.o.listenConfig(nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("listenConfig = %+v, %v; want an error containing %q", lc, err, tt.wantErr)
				}
				return
			}
			if err != nil || lc.MaxConns != tt.want {
				t.Fatalf("listenConfig MaxConns = %d, %v; want %d", lc.MaxConns, err, tt.want)
			}
		})
	}
}
