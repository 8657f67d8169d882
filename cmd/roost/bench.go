package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
)

type benchOptions struct {
	server, class, prefix, method, path string
	clients, objects                    int
	duration, timeout                   time.Duration
	requests                            int64
}

func newBenchCmd() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load a running server with HTTP requests to objects and report throughput and latency",
		Long: `Send requests to objects of a running server from --clients closed-loop clients
(keep-alive connections) for --duration or --requests, and print progress every
second and a summary: requests/s and latency percentiles.

  roost bench                                  # POST /counter/bench-0/increment, 16 clients, 10s
  roost bench --objects 10000 --prefix cold-   # 10,000 distinct counters, round-robin
  roost bench --clients 1                      # the latency of one durable write

It first checks that the server answers (one GET of --server, bounded by
--timeout) and fails at once if it does not. Every request is bounded by
--timeout; the run stops by itself. A request fails on a transport error or
an answer other than 2xx: the summary counts them by error, and the command
then exits with an error (status 1) saying how many failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envFallback(cmd.Flags()); err != nil {
				return err
			}
			return bench(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "http://127.0.0.1:8080", "server base URL (loopback)")
	f.StringVar(&o.class, "class", "counter", "object class")
	f.StringVar(&o.prefix, "prefix", "bench-", "object names are <prefix><n>")
	f.StringVar(&o.method, "method", http.MethodPost, "HTTP method")
	f.StringVar(&o.path, "path", "/increment", "path inside the object")
	f.IntVar(&o.clients, "clients", 16, "concurrent clients")
	f.IntVar(&o.objects, "objects", 1, "distinct objects, visited round-robin")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long to run")
	f.Int64Var(&o.requests, "requests", 0, "stop after this many requests (0: only --duration bounds the run)")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout")
	return cmd
}

// benchResult collects latencies of one client.
type benchResult struct {
	lat  []time.Duration
	errs map[string]int
}

// bench runs the load of o, printing progress on stderr and the summary on
// stdout. It fails before the run if the server does not answer, and after
// it if any request failed.
func bench(ctx context.Context, o benchOptions, stdout, stderr io.Writer) error {
	if o.clients < 1 || o.objects < 1 || o.duration <= 0 {
		return errors.New("--clients and --objects must be ≥ 1 and --duration > 0")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	tr := &http.Transport{MaxIdleConnsPerHost: o.clients, MaxConnsPerHost: o.clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: o.timeout}
	if err := checkServer(ctx, client, o.server); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var next, done atomic.Int64
	results := make([]benchResult, o.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := range o.clients {
		wg.Go(func() { results[c] = benchClient(ctx, client, o, &next, &done) })
	}
	finished := make(chan struct{})
	var pg sync.WaitGroup
	pg.Go(func() { progress(ctx, stderr, finished, &done, start) })
	wg.Wait()
	elapsed := time.Since(start)
	close(finished)
	pg.Wait()
	ok, failed := report(stdout, o, results, elapsed)
	if failed > 0 {
		return fmt.Errorf("%d of %d requests failed (transport errors or answers other than 2xx: see the summary)", failed, ok+failed)
	}
	return nil
}

// checkServer makes one request to the server, so that a run against a
// server that is not there fails at once instead of counting a transport
// error per request. Any HTTP answer will do: what is checked is that
// something answers.
func checkServer(ctx context.Context, client *http.Client, server string) error {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--server %q: want a URL such as http://127.0.0.1:8080", server)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(server, "/")+"/", nil)
	if err != nil {
		return fmt.Errorf("--server %q: %w", server, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("cannot reach the server at %s: %w; start it with `roost serve`, or point --server at it", server, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // so that its connection is reused
	return nil
}

func benchClient(ctx context.Context, client *http.Client, o benchOptions, next, done *atomic.Int64) benchResult {
	r := benchResult{errs: map[string]int{}}
	for ctx.Err() == nil {
		n := next.Add(1)
		if o.requests > 0 && n > o.requests {
			return r
		}
		url := fmt.Sprintf("%s/%s/%s%d%s", strings.TrimSuffix(o.server, "/"), o.class, o.prefix, (n-1)%int64(o.objects), o.path)
		t0 := time.Now()
		err := benchRequest(ctx, client, o.method, url)
		if ctx.Err() != nil {
			return r // cut off by the end of the run: not counted
		}
		done.Add(1)
		if err != nil {
			r.errs[err.Error()]++
			continue
		}
		r.lat = append(r.lat, time.Since(t0))
	}
	return r
}

func benchRequest(ctx context.Context, client *http.Client, method, url string) error {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return errors.New("transport error")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// progress prints a line every second until the run ends or the clients
// finished.
func progress(ctx context.Context, w io.Writer, finished <-chan struct{}, done *atomic.Int64, start time.Time) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := int64(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-finished:
			return
		case <-t.C:
			n := done.Load()
			fmt.Fprintf(w, "[%3.0fs] %d requests, %d/s\n", time.Since(start).Seconds(), n, n-last)
			last = n
		}
	}
}

// report prints the summary of a run and returns how many requests
// succeeded and failed.
func report(w io.Writer, o benchOptions, results []benchResult, elapsed time.Duration) (ok, failed int) {
	var lat []time.Duration
	errs := map[string]int{}
	for _, r := range results {
		lat = append(lat, r.lat...)
		for k, v := range r.errs {
			errs[k] += v
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	fmt.Fprintf(w, "%s %s/%s{0..%d}%s, %d clients, %s\n", o.method, o.class, o.prefix, o.objects-1, o.path, o.clients, elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "ok %d, errors %d, %.0f req/s\n", len(lat), sum(errs), float64(len(lat))/elapsed.Seconds())
	fmt.Fprintf(w, "latency p50 %s  p90 %s  p99 %s  max %s\n", pct(0.50), pct(0.90), pct(0.99), pct(1))
	for k, v := range errs {
		fmt.Fprintf(w, "error %q × %d\n", k, v)
	}
	return len(lat), sum(errs)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
