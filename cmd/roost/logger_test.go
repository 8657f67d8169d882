package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

func TestLogger_RejectsBadFlags(t *testing.T) {
	t.Parallel()
	if _, err := newLogger("loud", "text"); err == nil {
		t.Error("newLogger accepted level loud")
	}
	if _, err := newLogger("info", "xml"); err == nil {
		t.Error("newLogger accepted format xml")
	}
}

// JSON logs are read by programs and people alike: "took":"12.3ms", not
// "took":12300000, also inside groups.
func TestLogger_JSONWritesDurationsAsText(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := newLoggerTo(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("done", "took", 12300*time.Microsecond, "n", 3,
		slog.Group("run", "wait", 2*time.Second, slog.Group("retry", slog.Duration("delay", 1500*time.Millisecond))))
	log.WithGroup("step").Info("slow", "took", time.Duration(42), "any", any(time.Minute))
	log.LogAttrs(context.Background(), slog.LevelInfo, "attrs", slog.Duration("took", -time.Hour))

	want := []string{
		`{"n":3,"run":{"retry":{"delay":"1.5s"},"wait":"2s"},"took":"12.3ms"}`,
		`{"step":{"any":"1m0s","took":"42ns"}}`,
		`{"took":"-1h0m0s"}`,
	}
	dec := json.NewDecoder(&buf)
	for i, w := range want {
		var line map[string]any
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		for _, k := range []string{"time", "level", "msg"} {
			delete(line, k)
		}
		got, _ := json.Marshal(line) // keys sorted
		if string(got) != w {
			t.Errorf("line %d without time, level and msg:\n got %s\nwant %s", i+1, got, w)
		}
	}
}

// The text format already writes durations as text; it stays as it was.
func TestLogger_TextWritesDurationsAsText(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := newLoggerTo(&buf, "info", "text")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("done", "took", 12300*time.Microsecond, slog.Group("run", "wait", 2*time.Second))
	if got := buf.String(); !bytes.Contains(buf.Bytes(), []byte(" took=12.3ms run.wait=2s\n")) {
		t.Fatalf("text log: %q", got)
	}
}
