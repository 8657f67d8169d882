// Command clusterd is the server the cluster tests run on several nodes:
// Roost in cluster mode with the classes the tests check (the cluster flags
// are those of `roost serve`). Only the tests in test/cluster build it.
//
// Classes:
//
//	reg   a register: PUT /reg/{name} stores the body; GET answers it ("" if none)
//	ctr   a counter: POST /ctr/{name} adds 1 and answers the new value; GET answers it;
//	      GET /ctr/{name}/check answers its database's PRAGMA integrity_check
//	ctor  GET /ctor/{name}: its constructor appends "<id> <pid>\n" to --ctor-log and
//	      adds 1 to a stored count, which GET answers
//	call  GET /call/{name}?to={name}: an RPC call to the counter ctr/{to} (Add),
//	      from the node that owns call/{name}, which may not own ctr/{to}
//	ticker POST /ticker/{name} {"name":…, "alarm":ms, "timers":{"t1":ms,…}} sets its
//	      alarm and named timers (Unix ms); each run appends a line to --fires
//	      (ticker.go); GET answers the name of the node that owns it
//	cyc   GET /cyc/{name}?path=a,b: an RPC call to cyc/a, which calls cyc/b, …;
//	      answers the node of the last one (cycle.go)
//	echo  GET /echo/{name} with a WebSocket upgrade: every message goes to every
//	      socket of the object, prefixed with its owner's name; without an
//	      upgrade, answers the owner's name (cycle.go)
//
// and the workflow "flow" under /workflows/ (flow.go), whose steps append
// each execution to --wf-steps.
package main

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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/roost-dev/roost"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "clusterd:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) > 1 && os.Args[1] == "serve" { // the harness runs nodes as `roost serve`
		os.Args = append(os.Args[:1], os.Args[2:]...)
	}
	addr := flag.String("addr", "127.0.0.1:0", "HTTP address")
	data := flag.String("data", "", "data directory")
	node := flag.String("node", "", "node name")
	listen := flag.String("cluster", "", "cluster (NATS route) address")
	join := flag.String("join", "", "the other nodes' cluster addresses, comma-separated")
	advertise := flag.String("advertise", "", "HTTP address other nodes forward to")
	lease := flag.Duration("lease", 2*time.Second, "shard lease")
	ctorLog := flag.String("ctor-log", "", "file the ctor class's constructor appends to")
	fires := flag.String("fires", "", "file every run of a ticker's alarm or timer appends to")
	wfSteps := flag.String("wf-steps", "", "file every execution of a step of the workflow flow appends to")
	wfRetention := flag.Duration("wf-retention", 0, "workflow.Options.Retention (0: its default)")
	flag.Parse()
	if *data == "" || *node == "" || *listen == "" {
		return errors.New("--data, --node and --cluster are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	adv := *advertise
	if adv == "" {
		adv = ln.Addr().String()
	}
	var peers []string
	if *join != "" {
		peers = strings.Split(*join, ",")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	app, err := roost.Open(ctx, roost.Config{Dir: *data, Logger: log, Cluster: &roost.ClusterConfig{
		Node: *node, Listen: *listen, Join: peers, Advertise: adv, Lease: *lease}})
	if err != nil {
		return err
	}
	register(app, *ctorLog)
	registerMore(app, *node, &fireLog{path: *fires, node: *node})
	engine := startFlow(app, *node, *wfSteps, *wfRetention)
	app.Handle("/_roost/", app.AdminHandler(""))
	app.Handle("GET /metrics", app.MetricsHandler())
	srv := &http.Server{Handler: app.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "node", *node, "pid", os.Getpid())
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	app.Drain()
	srv.Shutdown(sctx)
	return errors.Join(ignoreClosed(err), engine.Close(sctx), app.Close(sctx))
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func register(app *roost.App, ctorLog string) {
	roost.Register(app, "reg", func(st *roost.State) (*reg, error) { return &reg{st}, nil })
	ctr := roost.RegisterWithOptions(app, "ctr", func(st *roost.State) (*ctr, error) { return &ctr{st}, nil },
		&roost.ClassOptions{Methods: []roost.MethodHandler{addMethod}})
	roost.Register(app, "ctor", func(st *roost.State) (*ctor, error) { return newCtor(st, ctorLog) })
	roost.Register(app, "call", func(st *roost.State) (*caller, error) { return &caller{ctr}, nil })
}

// registerMore registers the classes of ticker.go and cycle.go.
func registerMore(app *roost.App, node string, fires *fireLog) {
	roost.Register(app, "ticker", func(st *roost.State) (*ticker, error) { return &ticker{st, fires, node}, nil })
	var ns *roost.Namespace
	ns = roost.RegisterWithOptions(app, "cyc", func(st *roost.State) (*cyc, error) { return &cyc{ns, node}, nil },
		&roost.ClassOptions{Methods: []roost.MethodHandler{bounceMethod}})
	roost.Register(app, "echo", func(st *roost.State) (*echo, error) { return &echo{st, node}, nil })
}

// reg is a register.
type reg struct{ st *roost.State }

func (o *reg) Fetch(w http.ResponseWriter, r *http.Request) error {
	ctx, s := r.Context(), o.st.Storage()
	if r.Method == http.MethodPut {
		v, err := io.ReadAll(r.Body)
		if err == nil {
			err = s.Put(ctx, "v", v)
		}
		return err
	}
	v, _, err := s.Get(ctx, "v")
	if err == nil {
		_, err = w.Write(v)
	}
	return err
}

// addMethod is ctr's RPC method Add.
var addMethod = roost.NewMethod("Add", (*ctr).Add)

// ctr is a counter.
type ctr struct{ st *roost.State }

// AddRequest is the argument of ctr's Add method.
type AddRequest struct{ N int64 }

// AddReply is its answer.
type AddReply struct{ Value int64 }

// Add adds N and answers the new value.
func (o *ctr) Add(ctx context.Context, req AddRequest) (AddReply, error) {
	v, err := o.add(ctx, req.N)
	return AddReply{v}, err
}

func (o *ctr) add(ctx context.Context, n int64) (int64, error) {
	s := o.st.Storage()
	v, _, err := roost.GetJSON[int64](ctx, s, "v")
	if err == nil && n != 0 {
		v += n
		err = roost.PutJSON(ctx, s, "v", v)
	}
	return v, err
}

func (o *ctr) Fetch(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Path == "/check" {
		return integrity(w, r, o.st)
	}
	var n int64
	if r.Method == http.MethodPost {
		n = 1
	}
	v, err := o.add(r.Context(), n)
	if err == nil {
		_, err = io.WriteString(w, strconv.FormatInt(v, 10))
	}
	return err
}

// integrity answers the object's PRAGMA integrity_check ("ok" when sound).
func integrity(w http.ResponseWriter, r *http.Request, st *roost.State) error {
	var res string
	if err := st.Storage().QueryRow(r.Context(), "PRAGMA integrity_check").Scan(&res); err != nil {
		return err
	}
	_, err := io.WriteString(w, res)
	return err
}

// ctor records each construction.
type ctor struct{ st *roost.State }

func newCtor(st *roost.State, path string) (*ctor, error) {
	ctx := st.Context()
	n, _, err := roost.GetJSON[int](ctx, st.Storage(), "constructed")
	if err == nil {
		err = roost.PutJSON(ctx, st.Storage(), "constructed", n+1)
	}
	if err == nil && path != "" {
		var f *os.File
		if f, err = os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			_, err = fmt.Fprintf(f, "%s %d\n", st.ID(), os.Getpid())
			f.Close()
		}
	}
	return &ctor{st}, err
}

func (o *ctor) Fetch(w http.ResponseWriter, r *http.Request) error {
	n, _, err := roost.GetJSON[int](r.Context(), o.st.Storage(), "constructed")
	if err == nil {
		_, err = io.WriteString(w, strconv.Itoa(n))
	}
	return err
}

// caller calls counters by RPC.
type caller struct{ ctr *roost.Namespace }

func (o *caller) Fetch(w http.ResponseWriter, r *http.Request) error {
	to := r.URL.Query().Get("to")
	reply, err := addMethod.Call(r.Context(), o.ctr.GetByName(to), AddRequest{N: 1})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, strconv.FormatInt(reply.Value, 10))
	return err
}
