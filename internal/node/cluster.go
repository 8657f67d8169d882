package node

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/roost-dev/roost/internal/admin"
	"github.com/roost-dev/roost/internal/cluster"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/gateway"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/scheduler"
	"github.com/roost-dev/roost/internal/store"
)

// joinCluster starts the node's cluster membership (Config.Cluster set):
// the store then ships every commit to the object's replicated log, and
// the node serves only the objects whose shard lease it holds.
func (n *Node) joinCluster(ctx context.Context) error {
	if n.cfg.Cluster == nil {
		return nil
	}
	cfg := *n.cfg.Cluster
	cfg.Dir, cfg.Logger = n.cfg.Dir, n.log
	c, err := cluster.Start(ctx, cfg)
	if err != nil {
		return err
	}
	n.cluster = c
	for _, col := range c.Metrics().Collectors() {
		n.metrics.Registry().MustRegister(col)
	}
	return nil
}

// clusterLog is the store's Log in cluster mode: the cluster's, once the
// node joined (the store opens first, as it locks the data directory).
type clusterLog struct{ n *Node }

func (l clusterLog) Restore(class string, id ids.ID, r *store.Restorer) error {
	return l.n.cluster.Log().Restore(class, id, r)
}

func (l clusterLog) Append(class string, id ids.ID, ch *store.Changes) error {
	return l.n.cluster.Log().Append(class, id, ch)
}

// remote reports whether the object must be served by another node: in
// cluster mode, when this node does not take events for its shard. A
// request that another node forwarded here for the object is not forwarded
// again: it gets not_owner (nothing ran), which the forwarder retries.
func (n *Node) remote(ctx context.Context, ref Ref) (remote bool, err error) {
	if n.cluster == nil {
		return false, nil
	}
	if _, ok := n.cluster.Local(ref.Class, ref.ID); ok {
		return false, nil
	}
	if cluster.WasForwarded(ctx, ref.Class, ref.ID) {
		return false, cluster.NotOwner(ref.Class, ref.ID)
	}
	return true, nil
}

// stillOwner checks, after an event, that the node held the object's lease
// throughout: a read served by a node that lost it might be stale, so its
// answer is not released.
func (n *Node) stillOwner(ref Ref, epoch uint64) error {
	if n.cluster == nil {
		return nil
	}
	if now, ok := n.cluster.Holds(ref.Class, ref.ID); !ok || now != epoch {
		// Not not_owner, which a forwarding node retries: the event ran,
		// and its writes may be in the log.
		return errcode.New(errcode.NoQuorum, "this node lost the lease of %s/%s while the request ran: its outcome is unknown", ref.Class, ref.ID)
	}
	return nil
}

// epoch returns the lease epoch of the object's shard (0 on a single node).
func (n *Node) epoch(ref Ref) uint64 {
	if n.cluster == nil {
		return 0
	}
	e, _ := n.cluster.Holds(ref.Class, ref.ID)
	return e
}

// serveForwarded serves a request another node forwarded to this one.
func (n *Node) serveForwarded(w http.ResponseWriter, r *http.Request) {
	f, ctx, cancel, err := n.cluster.Receive(r)
	if err != nil {
		gateway.WriteError(w, err)
		return
	}
	defer cancel()
	r = r.WithContext(ctx)
	if f.Method == "" && strings.HasPrefix(r.URL.Path, admin.Prefix) {
		n.gw.ServeHTTP(w, r) // an admin request: the admin API serves it here
		return
	}
	if f.Method == "" {
		n.gw.ServeForwarded(w, r, f.Class, f.ID, f.Name)
		return
	}
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max(n.cfg.MaxBodyBytes, gateway.DefaultMaxBodyBytes)))
	if err == nil {
		var reply []byte
		reply, err = n.Call(ctx, Ref{Class: f.Class, ID: f.ID, Name: f.Name}, f.Method, payload)
		if err == nil {
			w.Header().Set("Content-Type", "application/json")
			w.Write(reply)
			return
		}
	}
	gateway.WriteError(w, err)
}

// handler is the node's HTTP handler: the gateway, and in cluster mode the
// requests other nodes forward.
type handler struct{ n *Node }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.n.cluster != nil && cluster.IsForwarded(r) {
		h.n.serveForwarded(w, r)
		return
	}
	h.n.gw.ServeHTTP(w, r)
}

// clusterAdmin is the admin API's view of the cluster.
type clusterAdmin struct{ c *cluster.Cluster }

func (a clusterAdmin) Status(ctx context.Context) (any, error) { return a.c.Status(ctx), nil }

func (a clusterAdmin) Drain(ctx context.Context, node string) error { return a.c.Drain(ctx, node) }

// leaveCluster hands the node's shards over and leaves the cluster.
func (n *Node) leaveCluster(ctx context.Context) error {
	if n.cluster == nil {
		return nil
	}
	return n.cluster.Close(ctx)
}

// loadShardWakes schedules the wakes of the objects of a shard this node
// took over: their alarms, timers and cron fire here from now on (what came
// due meanwhile fires at once). The cluster calls it again after an error.
func (n *Node) loadShardWakes(ctx context.Context, shard int) error {
	count := 0
	err := n.cluster.Wakes(ctx, shard, func(class string, id ids.ID, at time.Time) {
		n.sched.Set(scheduler.Key{Class: class, ID: id}, at)
		count++
	})
	if err != nil {
		return fmt.Errorf("load the wakes of shard %d: %w", shard, err)
	}
	n.log.Debug("shard taken over", "shard", shard, "wakes", count)
	return nil
}

// adminRouter forwards the admin API's requests for an object that
// another node owns to that node, in cluster mode. (Listing objects lists
// this node's inventory.)
type adminRouter struct {
	n *Node
	h http.Handler
}

func (a adminRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := strings.CutPrefix(r.URL.EscapedPath(), admin.Prefix+"objects/")
	rt, err := gateway.ParseRoute("/" + p)
	if !ok || err != nil {
		a.h.ServeHTTP(w, r)
		return
	}
	ref := Ref{Class: rt.Class, ID: rt.ID, Name: rt.Name}
	remote, err := a.n.remote(r.Context(), ref)
	if !remote && err == nil {
		a.h.ServeHTTP(w, r)
		return
	}
	var resp *http.Response
	if err == nil {
		resp, err = a.n.cluster.Forward(r.Context(), ref.Class, ref.ID, ref.Name, r)
	}
	if err != nil {
		gateway.WriteError(w, err)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}
