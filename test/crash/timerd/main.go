// Command timerd is the server that TestCrash_TimersSurviveKill9 kills: Roost
// with one class, "ticker", whose objects are armed over HTTP with an alarm
// and named timers and append one line to a log file at every run of their
// Alarm and Timer handlers. Only that test builds it.
//
// Routes of a ticker:
//
//	POST /ticker/{name}/arm      {"name":…, "alarm":ms, "timers":{"t1":ms,…}} → 200 {} once committed
//	GET  /ticker/{name}/pending  {"pending":N}: its named timers plus its alarm
//
// A run appends "<name> <fire ID> <attempt> <pid> <Unix ms now>\n" with one
// write(2) before the handler returns, so the line may be written by a run
// whose event never commits (a kill -9 right after it): the log holds every
// run, including the ones that at-least-once delivery repeats.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/roost-dev/roost"
	"github.com/roost-dev/roost/test/crash/internal/crashd"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "timerd:", err)
		os.Exit(1)
	}
}

func run() error {
	crashd.SkipServe()
	clusterFlags := crashd.AddClusterFlags()
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (port 0 picks a free one)")
	data := flag.String("data", "", "data directory")
	fires := flag.String("fires", "", "file that every alarm and timer run appends a line to")
	failSuffix := flag.String("fail-suffix", "", "fail the first run of every fire of the objects whose name ends with this")
	flag.Parse()
	cluster, err := clusterFlags.Config()
	if err != nil {
		return err
	}
	if *data == "" || *fires == "" {
		return errors.New("--data and --fires are required")
	}
	f, err := crashd.OpenLog(*fires)
	if err != nil {
		return err
	}
	defer f.Close()
	fl := &fireLog{f: f, pid: os.Getpid(), failSuffix: *failSuffix}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	return crashd.Serve(log, *addr, *data, cluster, func(app *roost.App) func(context.Context) error {
		roost.Register(app, "ticker", func(st *roost.State) (*ticker, error) {
			return &ticker{st: st, log: fl}, nil
		})
		return nil
	})
}

// fireLog is the file every run appends its line to.
type fireLog struct {
	f          *os.File
	pid        int
	failSuffix string
}

var errFirstRun = errors.New("timerd: this object's fires fail their first run (--fail-suffix)")

// record appends the run's line, then fails it if it is the first run of a
// fire of an object named with the failing suffix.
func (l *fireLog) record(name, fireID string, attempt int) error {
	line := fmt.Appendf(nil, "%s %s %d %d %d\n", name, fireID, attempt, l.pid, time.Now().UnixMilli())
	if _, err := l.f.Write(line); err != nil {
		return err
	}
	if attempt == 0 && l.failSuffix != "" && strings.HasSuffix(name, l.failSuffix) {
		return errFirstRun
	}
	return nil
}

// ticker is one object of the class.
type ticker struct {
	st  *roost.State
	log *fireLog
}

// armRequest is the body of POST /arm. Times are Unix milliseconds.
type armRequest struct {
	Name   string           `json:"name"`
	Alarm  int64            `json:"alarm"`
	Timers map[string]int64 `json:"timers"`
}

func (k *ticker) Fetch(w http.ResponseWriter, r *http.Request) error {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/arm":
		return k.arm(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/pending":
		return k.pending(w, r)
	}
	roost.WriteError(w, roost.NewError("not_found", "routes: POST /arm, GET /pending"))
	return nil
}

// arm stores the object's name and sets its alarm and timers, all in this
// one event: they commit together before the 200 goes out.
func (k *ticker) arm(w http.ResponseWriter, r *http.Request) error {
	var req armRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" || req.Alarm == 0 {
		roost.WriteError(w, roost.NewError("bad_request", fmt.Sprintf("want {name, alarm, timers}: %v", err)))
		return nil
	}
	ctx, s := r.Context(), k.st.Storage()
	if err := s.Put(ctx, "name", []byte(req.Name)); err != nil {
		return err
	}
	if err := s.SetAlarm(ctx, time.UnixMilli(req.Alarm)); err != nil {
		return err
	}
	for name, at := range req.Timers {
		if err := s.Schedule(ctx, name, time.UnixMilli(at), nil); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, err := io.WriteString(w, "{}")
	return err
}

// pending answers the number of named timers plus 1 if the alarm is set.
func (k *ticker) pending(w http.ResponseWriter, r *http.Request) error {
	ctx, s := r.Context(), k.st.Storage()
	ts, err := s.Timers(ctx)
	if err != nil {
		return err
	}
	n := len(ts)
	if _, ok, err := s.GetAlarm(ctx); err != nil {
		return err
	} else if ok {
		n++
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]int{"pending": n})
}

func (k *ticker) Alarm(ctx context.Context, info roost.AlarmInfo) error {
	return k.log.record(k.name(ctx), fmt.Sprintf("alarm@%d", info.Scheduled.UnixMilli()), info.RetryCount)
}

func (k *ticker) Timer(ctx context.Context, fire roost.TimerFire) error {
	return k.log.record(k.name(ctx), fire.FireID, fire.Attempt)
}

// name is the name stored at arm time, or the ID if there is none.
func (k *ticker) name(ctx context.Context) string {
	v, ok, err := k.st.Storage().Get(ctx, "name")
	if err != nil || !ok || len(v) == 0 || bytes.ContainsAny(v, " \n") {
		return "id:" + k.st.ID().String()
	}
	return string(v)
}
