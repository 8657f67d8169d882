package main

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/examples/demo"
	"github.com/roost-dev/roost/internal/gateway"
	"github.com/roost-dev/roost/internal/listen"
	"github.com/roost-dev/roost/workflow"
	"github.com/roost-dev/roost/yjs"
)

type serveOptions struct {
	addr, data, durability, logLevel, logFormat                      string
	otlpEndpoint                                                     string
	idleTimeout, shutdownTimeout, checkpointAfter, workflowRetention time.Duration
	orderSleep                                                       time.Duration
	maxActive, maxPending, timerRetries                              int
	timerRetryDelay                                                  time.Duration
	wsMaxMessage, wsQueueBytes, wsQueuedTotal                        int64
	wsSendQueue, wsMaxPerObject, wsMax                               int
	wsThrottleWait, wsWriteTimeout                                   time.Duration
	wsOrigins                                                        []string
	maxBody                                                          int64
	maxConns                                                         int
	httpHeaderTimeout, httpBodyTimeout                               time.Duration
	httpIdleTimeout                                                  time.Duration
	adminToken                                                       string
	admin                                                            roost.AdminConfig
	demo                                                             bool
	cluster                                                          clusterOptions
}

func newServeCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Roost server (with its demo classes unless --demo=false)",
		Long: `Run the Roost server. Objects are reached at /{class}/{name}/... (the name is
hashed into the object's ID) and /{class}/id/{64 hex chars}/...

Demo classes (--demo, on by default; --demo=false serves none):
  counter   POST /counter/{name}/increment → {"value":N}; GET /counter/{name}
  room      GET /room/{name} with a WebSocket upgrade: every message goes to
            every socket of the room (hibernatable)
  chatroom  GET /chatroom/{room}?name={name} with a WebSocket upgrade: the chat
            demo's rooms (JSON messages, history, presence), rate-limited per
            client address by the class ratelimit; its page is at GET /

Demo workflows (HTTP API under /workflows/, "roost workflows"):
  order      charge (fails twice, then succeeds), sleep --order-sleep, wait
             for a "delivered" event (24 h), then a "rate your meal" step
  threestep  params: a number; three steps each add 1

Also served: GET /metrics (Prometheus) and the admin API under /_roost/ (used by
"roost objects"; loopback callers only unless --admin-token is set).

Each object's data is one SQLite file under --data, which one server at a
time may use: a second one on it fails at once.

Cluster mode (--node with --cluster and --join, or --nats-url): several
servers share the objects, each owned by one node at a time, every commit
replicated to NATS JetStream (embedded) before it is answered; any node
serves any object. See the README's "Cluster mode" and 'roost cluster'. SIGINT or SIGTERM stops the
server gracefully: WebSockets are closed (1001) and waiting requests are
answered at once, then in-flight events finish and commit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envFallback(cmd.Flags()); err != nil {
				return err
			}
			return serve(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	f.StringVar(&o.data, "data", "./roost-data", "data directory (created if missing)")
	f.StringVar(&o.durability, "durability", roost.DurabilityFull, `"full": fsync every commit before answering; "normal": fsync at checkpoints only (survives a process crash, not a power failure)`)
	f.DurationVar(&o.idleTimeout, "idle-timeout", 10*time.Second, "evict an object from memory after this long without events (negative: never)")
	f.DurationVar(&o.checkpointAfter, "checkpoint-after", time.Minute, "once an object has been out of memory this long, shrink its files in the background: copy its write-ahead log into its database and truncate it (negative: never)")
	f.IntVar(&o.maxActive, "max-active", 256, "most objects in memory (open databases) at once; least recently used idle ones are evicted")
	f.Int64Var(&o.maxBody, "max-body", 4<<20, "largest HTTP request body in bytes")
	f.IntVar(&o.maxConns, "max-conns", 0, "most open client connections, WebSockets included; beyond it a new one gets 503 overloaded and is closed (0: what the open-file limit leaves after objects' files)")
	f.DurationVar(&o.httpHeaderTimeout, "http-header-timeout", listen.DefaultHeaderTimeout, "close a connection whose request line and headers take longer (negative: never)")
	f.DurationVar(&o.httpBodyTimeout, "http-body-timeout", gateway.DefaultBodyTimeout, "answer 408 and close a connection whose request body takes longer after its headers (imports: no pause this long; negative: never)")
	f.DurationVar(&o.httpIdleTimeout, "http-idle-timeout", listen.DefaultIdleTimeout, "close a kept-alive connection idle this long between requests (negative: never)")
	f.IntVar(&o.maxPending, "max-pending", 4096, "most queued events per object; beyond it callers get 503 overloaded at once")
	f.IntVar(&o.timerRetries, "timer-retries", 6, "retries of a failed alarm or timer run before the fire is dropped (negative: none)")
	f.DurationVar(&o.timerRetryDelay, "timer-retry-delay", 2*time.Second, "delay before the first retry of a failed alarm or timer run; doubles with each retry")
	f.Int64Var(&o.wsMaxMessage, "ws-max-message", 1<<20, "largest WebSocket message in bytes (bigger: close 1009)")
	f.IntVar(&o.wsSendQueue, "ws-send-queue", 1024, "messages queued per WebSocket; from half of it senders are slowed, at the full queue the socket is closed (1008)")
	f.Int64Var(&o.wsQueueBytes, "ws-send-queue-bytes", 16<<20, "bytes queued per WebSocket; from half of it senders are slowed, over it the socket is closed (1008)")
	f.Int64Var(&o.wsQueuedTotal, "ws-queued-bytes-total", 256<<20, "bytes queued for all WebSockets (a broadcast once); over it the longest queues are closed (1013)")
	f.DurationVar(&o.wsThrottleWait, "ws-throttle-wait", 2*time.Second, "longest a room's senders wait for receivers that stopped reading (then a tenth of the time); a receiver behind that long is closed (1008)")
	f.DurationVar(&o.wsWriteTimeout, "ws-write-timeout", 10*time.Second, "a WebSocket whose client reads nothing for this long during a write is closed")
	f.IntVar(&o.wsMaxPerObject, "ws-max-per-object", 32768, "most WebSockets per object")
	f.IntVar(&o.wsMax, "ws-max", 100000, "most WebSockets in the server")
	f.StringSliceVar(&o.wsOrigins, "ws-origins", nil, `browser origins allowed to open WebSockets besides the server's own ("*": any)`)
	f.StringVar(&o.adminToken, "admin-token", "", "bearer token of the admin API at /_roost/ (roost objects); without one it serves only loopback callers")
	f.DurationVar(&o.admin.SQLTimeout, "admin-sql-timeout", 5*time.Second, "bound of an admin SQL request (roost objects sql) in its object's turn: then it is interrupted and answers 504 timeout (negative: none)")
	f.Int64Var(&o.admin.SQLMaxBytes, "admin-sql-max-bytes", 16<<20, "most bytes of rows (as JSON) in an admin SQL answer; the rest is left out and the answer says truncated_by max_bytes")
	f.Int64Var(&o.admin.ImportMaxBytes, "admin-import-max-bytes", 1<<30, "largest file roost objects import accepts, in bytes (at most the 10 GiB database limit)")
	f.BoolVar(&o.demo, "demo", true, "serve the demo classes, workflows and chat page (--demo=false: none)")
	f.DurationVar(&o.workflowRetention, "workflow-retention", workflow.DefaultRetention, "keep a finished workflow instance this long after its end, then purge it with its journal (negative: forever)")
	f.DurationVar(&o.orderSleep, "order-sleep", time.Hour, "how long the demo's order workflow sleeps between the charge and the delivery")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a graceful shutdown waits for in-flight events")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	o.cluster.flags(f)
	f.StringVar(&o.otlpEndpoint, "otlp-endpoint", "", "send OpenTelemetry trace spans to this OTLP/HTTP endpoint, e.g. http://127.0.0.1:4318 (also on when OTEL_EXPORTER_OTLP_ENDPOINT is set; off by default)")
	return cmd
}

// moreProcs runs twice as many Ps as the default unless GOMAXPROCS is set.
// SQLite runs as C code through cgo, and a commit waits for its fsync there
// while its thread keeps the P; more Ps keep Go code running meanwhile.
// Measured on 2 cores: about +30 % requests/s to new objects, -10 % on one
// hot object (BENCHMARKS.md).
func moreProcs() {
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(2 * runtime.GOMAXPROCS(0))
	}
}

func serve(ctx context.Context, o serveOptions) error {
	log, err := newLogger(o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	moreProcs()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	tp, stopTracing, err := newTracerProvider(ctx, o.otlpEndpoint)
	if err != nil {
		return err
	}
	defer func() {
		if err := stopTracing(context.Background()); err != nil {
			log.Warn("flush trace spans", "err", err)
		}
	}()
	lc, err := o.listenConfig(log)
	if err != nil {
		return err
	}
	// The port first: a second server on a busy port fails before it
	// touches any data directory.
	ln, err := listen.Listen(o.addr, lc)
	if err != nil {
		return err
	}
	defer ln.Close()
	cluster, err := o.cluster.config(ln.Addr())
	if err != nil {
		return err
	}
	app, err := roost.Open(ctx, roost.Config{
		Dir: o.data, Durability: o.durability, IdleTimeout: o.idleTimeout, CheckpointAfter: o.checkpointAfter,
		MaxActiveObjects: o.maxActive, MaxPendingEvents: o.maxPending, MaxBodyBytes: o.maxBody, BodyTimeout: o.httpBodyTimeout,
		Logger: log, TracerProvider: tp,
		WebSockets: roost.WebSocketConfig{MaxMessageBytes: o.wsMaxMessage, SendQueue: o.wsSendQueue,
			MaxPerObject: o.wsMaxPerObject, MaxTotal: o.wsMax, AllowedOrigins: o.wsOrigins,
			SendQueueBytes: o.wsQueueBytes, QueuedBytesTotal: o.wsQueuedTotal, ThrottleWait: o.wsThrottleWait,
			WriteTimeout: o.wsWriteTimeout},
		TimerRetry: roost.RetryPolicy{Initial: o.timerRetryDelay, MaxRetries: cmp.Or(o.timerRetries, -1)}, // 0 means none here
		Admin:      o.admin,
		Cluster:    cluster,
	})
	if err != nil {
		return err
	}
	workflows := workflow.NewWithOptions(app, workflow.Options{Retention: o.workflowRetention})
	yjs.Register(app, "yjs", nil)
	if o.demo {
		demo.Register(app, workflows, demo.Config{OrderSleep: o.orderSleep})
	}
	app.Handle(workflow.Prefix, workflows.Handler())
	app.Handle("/_roost/", app.AdminHandler(o.adminToken))
	app.Handle("GET /metrics", app.MetricsHandler())
	if err := app.RegisterMetrics(connMetrics(ln)...); err != nil {
		return errors.Join(err, app.Close(context.Background()))
	}
	srv := listen.Server(app.Handler(), lc)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "data", o.data, "durability", o.durability, "demo", o.demo, "max_conns", lc.MaxConns)
	select {
	case err = <-errc:
	case <-ctx.Done():
		log.Info("shutting down", "timeout", o.shutdownTimeout)
	}
	if serr := shutdown(app, workflows, srv, o.shutdownTimeout, log); serr != nil {
		err = errors.Join(err, serr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped")
	return err
}

// shutdown stops the server within timeout: first it tells the clients
// that wait (sockets closed with 1001, long polls answered), so that the
// HTTP server's graceful stop does not wait for them; then in-flight
// requests finish, the workflow runs stop at their next step, and the
// app's events drain and commit. Requests and workflow runs get three
// quarters of timeout, so that runs slow to stop leave the app at least a
// quarter of it to commit its events.
func shutdown(app *roost.App, workflows *workflow.Engine, srv *http.Server, timeout time.Duration, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	first, cancelFirst := context.WithTimeout(ctx, timeout*3/4)
	defer cancelFirst()
	app.Drain()
	if err := srv.Shutdown(first); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := workflows.Close(first); err != nil {
		log.Warn("close workflows", "err", err)
	}
	if err := app.Close(ctx); err != nil {
		log.Error("close", "err", err)
		return err
	}
	return nil
}
