// Package crashd holds what the servers of the crash tests (flowd, timerd)
// share: the log file their handlers append to, and serving an app until a
// signal stops it.
package crashd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
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

// Serve opens the app on the data directory, lets setup register what it
// serves (setup returns what to close before the app, or nil), and serves
// the app's handler on addr until SIGINT or SIGTERM; then it shuts down
// within 30 s.
func Serve(log *slog.Logger, addr, data string, setup func(app *roost.App) func(context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app, err := roost.Open(ctx, roost.Config{Dir: data, Logger: log})
	if err != nil {
		return err
	}
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
