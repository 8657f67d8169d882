package listen

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"syscall"
	"time"
)

// Defaults of [Config].
const (
	DefaultHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout   = 30 * time.Second
)

// Config bounds a server's clients. The zero value of an optional field
// means its documented default.
type Config struct {
	// MaxConns bounds the open client connections, WebSockets included:
	// past it a new connection is answered 503 overloaded and closed.
	// Required, at least 1; [Budget] says how many fit the open-file limit.
	MaxConns int
	// HeaderTimeout bounds reading a request's line and headers, from the
	// connection's first byte or, on a kept-alive connection, from the end
	// of the idle wait. Past it the connection is closed. Defaults to 10s;
	// negative means no limit.
	HeaderTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that waits this long for
	// its next request. Defaults to 30s; negative means no limit.
	IdleTimeout time.Duration
	// Logger receives the server's warnings: net/http's (accept errors,
	// malformed requests) and, at most every 10 s, that connections are
	// refused. Defaults to slog.Default().
	Logger *slog.Logger
}

func (c Config) validate() error {
	if c.MaxConns < 1 {
		return fmt.Errorf("listen config: MaxConns: must be ≥ 1, got %d", c.MaxConns)
	}
	return nil
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}

// timeout maps a Config duration to http.Server's, for which negative
// also means none: 0 is def.
func timeout(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Server returns an HTTP server for h with cfg's timeouts; serve it on a
// [Listener] made with the same cfg. It sets no ReadTimeout or
// WriteTimeout: net/http would apply them to the whole exchange, so a long
// poll or a WebSocket would be cut off (a read deadline that passes while a
// handler runs cancels its request's context); the gateway bounds request
// bodies instead.
func Server(h http.Handler, cfg Config) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: timeout(cfg.HeaderTimeout, DefaultHeaderTimeout),
		IdleTimeout:       timeout(cfg.IdleTimeout, DefaultIdleTimeout),
		ErrorLog:          slog.NewLogLogger(cfg.logger().Handler(), slog.LevelWarn),
	}
}

// Budget returns how many client connections fit the process's open-file
// limit (the soft RLIMIT_NOFILE, which the Go runtime raises to the hard
// limit at start) once reserved descriptors are set aside for the server's
// own files, and a few for the refused connections that linger. It fails
// when that leaves none.
func Budget(reserved int) (int, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("read the open-file limit: %w", err)
	}
	limit := int(min(rl.Cur, math.MaxInt32))
	if n := limit - reserved - maxLingering; n >= 1 {
		return n, nil
	}
	return 0, fmt.Errorf("the open-file limit (%d) leaves no descriptor for client connections "+
		"after the %d the server keeps for its files and %d for refused connections", limit, reserved, maxLingering)
}
