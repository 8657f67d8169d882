package roost

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/node"
)

// Clock is the time source of an app. Tests pass a virtual clock (see
// package roosttest) to fire timeouts without waiting.
type Clock = clock.Clock

// Timer is a timer of a [Clock].
type Timer = clock.Timer

// Durability modes for [Config.Durability].
const (
	// DurabilityFull fsyncs every commit before any output of its events is
	// released: an acknowledged write survives a power failure. The default.
	DurabilityFull = "full"
	// DurabilityNormal fsyncs only at checkpoints: an acknowledged write
	// survives a crash of the process but may be lost if the machine fails.
	DurabilityNormal = "normal"
)

// Config configures an [App]. The zero value of every field means its
// documented default; the library never reads the environment.
type Config struct {
	// Dir is the data directory; each object's database lives beneath it.
	// Required.
	Dir string
	// Durability is DurabilityFull (default) or DurabilityNormal.
	Durability string
	// IdleTimeout is how long an object stays in memory without events
	// before it is evicted (its database closed). Defaults to 10s. Negative
	// disables idle eviction.
	IdleTimeout time.Duration
	// CheckpointAfter is how long an object stays out of memory before its
	// write-ahead log is copied into its database and truncated, in the
	// background, so that an idle object's files hold only its data. (An
	// object's first write after that syncs a new log header: one fsync
	// more.) Defaults to 1m; negative means never.
	CheckpointAfter time.Duration
	// MaxActiveObjects bounds the objects in memory and so the open database
	// files (two descriptors each); beyond it the least recently used idle
	// object is evicted. Defaults to 256 (an activation gets slower as more
	// connections are open: the SQLite driver walks a process-wide table of
	// them on every close; raise it when many objects are busy at once).
	MaxActiveObjects int
	// MaxPendingEvents bounds the queued events of one object; beyond it
	// callers get ErrOverloaded (HTTP 503) at once. Defaults to 4096.
	MaxPendingEvents int
	// MaxKeySize, MaxValueSize and MaxDatabaseSize are the storage limits in
	// bytes. Default 2 KiB, 2 MiB and 10 GiB (as Cloudflare's).
	MaxKeySize, MaxValueSize int
	MaxDatabaseSize          int64
	// MaxBodyBytes bounds HTTP request bodies at the gateway. Defaults to
	// 4 MiB.
	MaxBodyBytes int64
	// BodyTimeout bounds how long a client may take to send a request body
	// to [App.Handler], from the end of its headers: past it the client gets
	// 408 request_timeout and its connection is closed, so a slow or silent
	// client cannot hold a connection and its buffer. Requests without a
	// body (long polls, WebSocket upgrades) are not bound by it; the admin
	// API's import may take longer as long as bytes keep arriving (no pause
	// of BodyTimeout). Defaults to 60s; negative means no limit.
	BodyTimeout time.Duration
	// BlockConcurrencyTimeout bounds State.BlockConcurrencyWhile. Defaults to
	// 30s.
	BlockConcurrencyTimeout time.Duration
	// Clock is the time source. Defaults to the real clock.
	Clock Clock
	// Logger receives structured logs. Defaults to slog.Default().
	Logger *slog.Logger
	// TimerRetry is how failed alarm and timer runs are retried. The zero
	// value is Cloudflare's policy: after 2 s, doubling, up to 6 retries.
	TimerRetry RetryPolicy
	// TimerConcurrency bounds the alarms and timers delivered at once.
	// Defaults to 32.
	TimerConcurrency int
	// WebSockets bounds and guards the sockets objects accept. The zero
	// value is the defaults.
	WebSockets WebSocketConfig
	// TracerProvider receives OpenTelemetry spans around events, commits
	// and RPC calls. Nil (the default) records none.
	TracerProvider trace.TracerProvider
	// Admin bounds the operator's admin operations ([Admin], `roost
	// objects`). The zero value is the defaults.
	Admin AdminConfig
	// Cluster, if set, makes the app a node of a cluster. Nil (the
	// default): a single node, exactly as without cluster support.
	Cluster *ClusterConfig

	// faults injects storage failures (tests in this module only).
	faults *node.Faults
}

// WebSocketConfig bounds and guards WebSockets. Zero fields are defaults.
type WebSocketConfig struct {
	// MaxMessageBytes bounds a received message; a bigger one closes the
	// socket with 1009. Default 1 MiB.
	MaxMessageBytes int64
	// SendQueue bounds the messages waiting to be written to one socket.
	// From half of it, the object's senders are slowed down; a socket that
	// still falls behind to the full queue is closed with 1008. Default
	// 1024.
	SendQueue int
	// SendQueueBytes bounds the bytes waiting to be written to one socket,
	// as SendQueue bounds its messages (half of it slows the senders, the
	// whole closes the socket with 1008); a message to an empty queue is
	// always taken, however big. Default 16 MiB.
	SendQueueBytes int64
	// QueuedBytesTotal bounds the bytes waiting in the send queues of all
	// the app's sockets, a broadcast's message counted once. A message that
	// would go over it closes the sockets with the most bytes queued (1013,
	// try again later) until it fits. Default 256 MiB.
	QueuedBytesTotal int64
	// ThrottleWait bounds how long receivers that stopped reading may hold
	// up an object's senders: at most ThrottleWait at once, then a tenth of
	// the time; a receiver still behind after ThrottleWait is closed
	// (1008). Default 2s.
	ThrottleWait time.Duration
	// WriteTimeout bounds a write to a client that stopped reading; then
	// its socket is closed. Default 10s.
	WriteTimeout time.Duration
	// MaxPerObject and MaxTotal bound the sockets of one object and of the
	// app (limit_exceeded beyond them). Defaults 32,768 and 100,000.
	MaxPerObject, MaxTotal int
	// AllowedOrigins lists the Origin values (scheme://host[:port]) allowed
	// to open a socket besides the server's own host; "*" allows any. A
	// request without Origin (not from a browser) is always allowed.
	AllowedOrigins []string
}

// AdminConfig bounds the admin operations, which run in the object's turn
// or write into the data directory. Zero fields are defaults.
type AdminConfig struct {
	// SQLTimeout bounds an admin SQL request in the object's turn: at the
	// deadline the statement is interrupted (sqlite3_interrupt), the
	// request fails with code timeout (HTTP 504) and changes nothing, and
	// the object goes on with its other events. It also bounds each write
	// of the answer to a client that stops reading. Default 5s; negative:
	// none.
	SQLTimeout time.Duration
	// SQLMaxBytes bounds the rows of an admin SQL answer, as JSON (the
	// HTTP API streams them as they are read): the rows past it are left
	// out, and the answer says truncated_by "max_bytes". Default 16 MiB.
	SQLMaxBytes int64
	// ImportMaxBytes bounds a file to import: an upload fails with code
	// limit_exceeded as soon as it passes the bound, or at once if its
	// SQLite header says the database is bigger. Default 1 GiB (and never
	// more than MaxDatabaseSize).
	ImportMaxBytes int64
}

// fill sets the defaults of the zero fields.
func (a *AdminConfig) fill() error {
	if a.SQLMaxBytes < 0 || a.ImportMaxBytes < 0 {
		return fmt.Errorf("config: Admin: SQLMaxBytes and ImportMaxBytes must not be negative, got %d and %d", a.SQLMaxBytes, a.ImportMaxBytes)
	}
	if a.SQLTimeout == 0 {
		a.SQLTimeout = 5 * time.Second
	}
	if a.SQLMaxBytes == 0 {
		a.SQLMaxBytes = 16 << 20
	}
	if a.ImportMaxBytes == 0 {
		a.ImportMaxBytes = 1 << 30
	}
	return nil
}

func (c *Config) validate() error {
	if c.Dir == "" {
		return errors.New("config: Dir: must be set")
	}
	switch c.Durability {
	case "", DurabilityFull, DurabilityNormal:
	default:
		return fmt.Errorf("config: Durability: must be %q or %q, got %q", DurabilityFull, DurabilityNormal, c.Durability)
	}
	if c.IdleTimeout > 0 && c.IdleTimeout < 10*time.Millisecond {
		return fmt.Errorf("config: IdleTimeout: must be ≥ 10ms or negative, got %s", c.IdleTimeout)
	}
	if c.BodyTimeout > 0 && c.BodyTimeout < 10*time.Millisecond {
		return fmt.Errorf("config: BodyTimeout: must be ≥ 10ms or negative, got %s", c.BodyTimeout)
	}
	if c.MaxActiveObjects < 0 || c.MaxPendingEvents < 0 || c.MaxKeySize < 0 || c.MaxValueSize < 0 || c.MaxDatabaseSize < 0 || c.MaxBodyBytes < 0 {
		return errors.New("config: limits must not be negative")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	if w := c.WebSockets; w.MaxMessageBytes < 0 || w.SendQueue < 0 || w.MaxPerObject < 0 || w.MaxTotal < 0 ||
		w.SendQueueBytes < 0 || w.QueuedBytesTotal < 0 || w.ThrottleWait < 0 || w.WriteTimeout < 0 {
		return errors.New("config: WebSockets limits must not be negative")
	}
	if c.TimerConcurrency < 0 {
		return errors.New("config: TimerConcurrency must not be negative")
	}
	c.TimerRetry.fill()
	if err := c.Cluster.validate(); err != nil {
		return err
	}
	return c.Admin.fill()
}

// RetryPolicy is how failed alarm and timer runs are retried: after
// Initial, then twice as long each time up to MaxDelay, at most MaxRetries
// times; then the fire is dropped (and logged, and counted in
// roost_timer_failures_total).
type RetryPolicy struct {
	// Initial is the delay before the first retry. Default 2s.
	Initial time.Duration
	// MaxDelay caps the delay between retries. Default 1h.
	MaxDelay time.Duration
	// MaxRetries is the number of retries after the first run. Default 6;
	// negative means none.
	MaxRetries int
}

func (p *RetryPolicy) fill() {
	if p.Initial <= 0 {
		p.Initial = 2 * time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = time.Hour
	}
	if p.MaxRetries == 0 {
		p.MaxRetries = 6
	}
	p.MaxRetries = max(p.MaxRetries, 0)
}
