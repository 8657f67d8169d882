package roost_test

import (
	"strings"
	"testing"
	"time"

	"github.com/roost-dev/roost"
)

func TestOpen_RejectsInvalidTimeouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     roost.Config
		wantErr string
	}{
		{"idle timeout too short", roost.Config{IdleTimeout: time.Millisecond}, "config: IdleTimeout: must be ≥ 10ms"},
		{"body timeout too short", roost.Config{BodyTimeout: time.Millisecond}, "config: BodyTimeout: must be ≥ 10ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.Dir = t.TempDir()
			app, err := roost.Open(t.Context(), tt.cfg)
			if err == nil {
				app.Close(t.Context())
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Open = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
