package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// newLogger returns the server's logger: on stderr, at level (debug, info,
// warn or error), in format text or json.
func newLogger(level, format string) (*slog.Logger, error) {
	return newLoggerTo(os.Stderr, level, format)
}

// newLoggerTo is newLogger writing to w. JSON logs write durations as text
// ("took":"12.3ms"), as the text format does, rather than slog's default of
// integer nanoseconds.
func newLoggerTo(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: durationText})), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", format)
}

// durationText is a ReplaceAttr of slog that writes a time.Duration as its
// String ("12.3ms", "1m0s"), which time.ParseDuration reads back. slog
// calls it for every attribute that is not a group, so durations inside
// groups (slog.Group, Logger.WithGroup) are written as text too.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
