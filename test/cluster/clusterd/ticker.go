package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/roost-dev/roost"
)

// fireLog is the --fires file: every run of a ticker's alarm or timer
// appends "<object name> <fire ID> <attempt> <node>\n" with one write(2).
type fireLog struct {
	mu   sync.Mutex
	path string
	node string
}

func (l *fireLog) record(name, fireID string, attempt int) error {
	if l.path == "" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "%s %s %d %s\n", name, fireID, attempt, l.node)
	return err
}

// ticker sets an alarm and named timers and logs their runs.
type ticker struct {
	st   *roost.State
	log  *fireLog
	node string
}

// armRequest is the body of POST /ticker/{name}: Unix milliseconds.
type armRequest struct {
	Name   string           `json:"name"`
	Alarm  int64            `json:"alarm"`
	Timers map[string]int64 `json:"timers"`
}

// Fetch arms the ticker (POST, one event: answered once committed) and
// answers the name of the node that owns it.
func (k *ticker) Fetch(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodPost {
		if err := k.arm(r); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, k.node)
	return err
}

func (k *ticker) arm(r *http.Request) error {
	var req armRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" {
		return roost.NewError("bad_request", fmt.Sprintf("want {name, alarm, timers}: %v", err))
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
	return nil
}

func (k *ticker) Alarm(ctx context.Context, info roost.AlarmInfo) error {
	return k.log.record(k.name(ctx), fmt.Sprintf("alarm@%d", info.Scheduled.UnixMilli()), info.RetryCount)
}

func (k *ticker) Timer(ctx context.Context, fire roost.TimerFire) error {
	return k.log.record(k.name(ctx), fire.FireID, fire.Attempt)
}

func (k *ticker) name(ctx context.Context) string {
	v, ok, err := k.st.Storage().Get(ctx, "name")
	if err != nil || !ok {
		return "id:" + k.st.ID().String()
	}
	return string(v)
}
