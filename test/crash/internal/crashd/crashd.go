// Package crashd holds what the servers of the crash tests (flowd, timerd)
// share: the log file their handlers append to, the flags of cluster mode,
// and serving an app until a signal stops it.
package crashd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/roost-dev/roost"
)

// OpenLog opens path for appending. A previous process killed in the
// middle of a write may have left a line without its newline: one is added,
// so that the torn line does not swallow the next.
func OpenLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	torn, err := endsTorn(f)
	if err == nil && torn {
		_, err = f.Write([]byte("\n"))
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("log %s: %w", path, err)
	}
	return f, nil
}

// endsTorn reports whether f is not empty and its last byte is not a
// newline.
func endsTorn(f *os.File) (bool, error) {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return false, err
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, fi.Size()-1); err != nil && err != io.EOF {
		return false, err
	}
	return last[0] != '\n', nil
}

// ClusterFlags are the flags of cluster mode, those of `roost serve`, which
// the test harness (test/internal/cluster) passes to every node.
type ClusterFlags struct {
	node, listen, join, advertise *string
	lease                         *time.Duration
}

// AddClusterFlags registers the cluster flags on the command line's flag
// set. Call it before flag.Parse.
func AddClusterFlags() *ClusterFlags {
	return &ClusterFlags{
		node:      flag.String("node", "", "this node's name: runs in cluster mode"),
		listen:    flag.String("cluster", "", "the cluster (NATS route) address"),
		join:      flag.String("join", "", "the other nodes' cluster addresses, comma-separated"),
		advertise: flag.String("advertise", "", "the HTTP address the other nodes forward to"),
		lease:     flag.Duration("lease", 2*time.Second, "the shard lease"),
	}
}

// Config returns the cluster configuration the flags give, nil without
// --node (a single node).
func (f *ClusterFlags) Config() (*roost.ClusterConfig, error) {
	if f == nil || *f.node == "" {
		return nil, nil
	}
	if *f.listen == "" || *f.advertise == "" {
		return nil, errors.New("cluster mode (--node) needs --cluster and --advertise")
	}
	var peers []string
	if *f.join != "" {
		peers = strings.Split(*f.join, ",")
	}
	return &roost.ClusterConfig{Node: *f.node, Listen: *f.listen, Join: peers, Advertise: *f.advertise, Lease: *f.lease}, nil
}

// SkipServe drops a first argument "serve": the cluster harness runs every
// node as `<binary> serve <flags>`, as it runs roost. Call it before
// flag.Parse.
func SkipServe() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Args = append(os.Args[:1], os.Args[2:]...)
	}
}

// Serve opens the app on the data directory, lets setup register what it
// serves (setup returns what to close before the app, or nil), and serves
// the app's handler on addr until SIGINT or SIGTERM; then it shuts down
// within 30 s.
//
// With a cluster configuration (nil: a single node) the app joins the
// cluster. Either way it serves the admin API at /_roost/ and the metrics
// at /metrics, which the cluster harness waits for.
func Serve(log *slog.Logger, addr, data string, cluster *roost.ClusterConfig, setup func(app *roost.App) func(context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app, err := roost.Open(ctx, roost.Config{Dir: data, Logger: log, Cluster: cluster})
	if err != nil {
		return err
	}
	app.Handle("/_roost/", app.AdminHandler(""))
	app.Handle("GET /metrics", app.MetricsHandler())
	closeFirst := setup(app)
	if closeFirst == nil {
		closeFirst = func(context.Context) error { return nil }
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		err = fmt.Errorf("listen: %w", err)
		return errors.Join(err, closeFirst(context.Background()), app.Close(context.Background()))
	}
	srv := &http.Server{Handler: app.Handler(), ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(app.Drain) // waiting clients answer at once
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "data", data, "pid", os.Getpid())
	select {
	case err = <-errc:
	case <-ctx.Done():
		log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = errors.Join(err, srv.Shutdown(sctx), closeFirst(sctx), app.Close(sctx))
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped", "err", err)
	return err
}
