// Package natsd runs the NATS server embedded in a Roost node: JetStream on
// file storage under the node's data directory, every write fsync'd
// (sync_interval: always, never changed: JetStream's default of two minutes
// lost acknowledged messages in Jepsen's power-loss runs), clustered with
// the other nodes over routes, and reached by the node through in-process
// connections (its client port listens on a free loopback port only).
package natsd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ClusterName is the NATS cluster name of every Roost cluster.
const ClusterName = "roost"

// MaxPayload is the largest message: it bounds one commit's record in an
// object's log.
const MaxPayload = 8 << 20

// Config configures the embedded server.
type Config struct {
	// Name is the server's name: the Roost node's. Required.
	Name string
	// Dir holds JetStream's files; created if missing. Required.
	Dir string
	// Cluster is the host:port of the route listener; "" runs one server
	// on its own.
	Cluster string
	// Join lists the other nodes' route addresses.
	Join []string
	// Logger receives the server's warnings and errors. Required.
	Logger *slog.Logger
}

// Server is a running embedded NATS server.
type Server struct {
	srv *server.Server
}

// Start starts the server and returns once JetStream serves (in a cluster:
// once the JetStream meta group has a leader, which needs a quorum of the
// nodes), or ctx ends.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	opts, err := options(cfg)
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsd: %w", err)
	}
	srv.SetLoggerV2(logger{cfg.Logger}, false, false, false)
	go srv.Start() // Start returns once the server runs; Shutdown ends it
	s := &Server{srv: srv}
	if err := s.waitReady(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func options(cfg Config) (*server.Options, error) {
	if cfg.Name == "" || cfg.Dir == "" || cfg.Logger == nil {
		return nil, errors.New("natsd: config: Name, Dir and Logger are required")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("natsd: %w", err)
	}
	// A client listener on a free loopback port: the server starts its
	// routes only once its accept loop runs (DontListen would hold them).
	// The node itself connects in-process.
	o := &server.Options{ServerName: cfg.Name, Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: cfg.Dir,
		SyncAlways: true, NoSigs: true, MaxPayload: MaxPayload, JetStreamMaxMemory: 64 << 20}
	if cfg.Cluster == "" {
		return o, nil
	}
	host, port, err := splitHostPort(cfg.Cluster)
	if err != nil {
		return nil, fmt.Errorf("natsd: cluster address %q: %w", cfg.Cluster, err)
	}
	// NoAdvertise: a node learns no address of another but the ones it was
	// given (which may be proxies), never a direct one from gossip.
	// The routes ping each other every half second and give a peer up
	// after three unanswered pings or a write blocked for 2 s: a paused
	// peer (SIGSTOP, a frozen VM) answers no ping but keeps its TCP
	// connections open, and with NATS's defaults (2 min, 10 s) its routes
	// held the others' traffic to it, Raft's included, long after its
	// shards had moved.
	o.Cluster = server.ClusterOpts{Name: ClusterName, Host: host, Port: port, NoAdvertise: true,
		PingInterval: 500 * time.Millisecond, MaxPingsOut: 3, WriteDeadline: 2 * time.Second}
	for _, j := range cfg.Join {
		u, err := url.Parse("nats://" + j)
		if err != nil {
			return nil, fmt.Errorf("natsd: join address %q: %w", j, err)
		}
		o.Routes = append(o.Routes, u)
	}
	return o, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	return host, port, err
}

// waitReady waits until JetStream answers account requests.
func (s *Server) waitReady(ctx context.Context) error {
	if !s.srv.ReadyForConnections(30 * time.Second) {
		return errors.New("natsd: the server did not start")
	}
	nc, err := s.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.AccountInfo(actx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("natsd: JetStream not ready (is a quorum of the nodes up?): %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Connect returns an in-process client connection that reconnects for
// ever.
func (s *Server) Connect() (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(s.srv), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("natsd: connect: %w", err)
	}
	return nc, nil
}

// Close shuts the server down and waits until it stopped.
func (s *Server) Close() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

// Connect connects to an existing NATS cluster (roost serve --nats-url).
func Connect(url, name string) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name("roost "+name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("natsd: connect to %s: %w", url, err)
	}
	return nc, nil
}

// logger passes the server's warnings and errors to slog.
type logger struct{ l *slog.Logger }

func (l logger) Noticef(string, ...any) {}
func (l logger) Debugf(string, ...any)  {}
func (l logger) Tracef(string, ...any)  {}
func (l logger) Warnf(format string, v ...any) {
	l.l.Warn("nats: " + fmt.Sprintf(format, v...))
}
func (l logger) Errorf(format string, v ...any) {
	l.l.Error("nats: " + fmt.Sprintf(format, v...))
}
func (l logger) Fatalf(format string, v ...any) {
	l.l.Error("nats: fatal: " + fmt.Sprintf(format, v...))
}
