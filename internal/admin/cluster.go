package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/gateway"
)

// Cluster is the admin API's view of a node's cluster (internal/node
// implements it in cluster mode).
type Cluster interface {
	// Status reports the members, their shards and leases, and the
	// health of the cluster's streams (as JSON). It answers within a few
	// seconds even without a quorum.
	Status(ctx context.Context) (any, error)
	// Drain moves every shard of node to the other nodes and returns once
	// it holds none.
	Drain(ctx context.Context, node string) error
}

// clusterPath is the root of the cluster routes.
const clusterPath = "/_roost/cluster"

// cluster serves GET /_roost/cluster (status) and POST
// /_roost/cluster/drain?node=NAME.
func (s *Server) cluster(w http.ResponseWriter, r *http.Request, rest string) {
	if s.clusterAdmin == nil {
		gateway.WriteError(w, errcode.New(errcode.NotFound, "this server is not a node of a cluster (roost serve --node …)"))
		return
	}
	switch rest {
	case "", "/":
		if allowed(w, r, http.MethodGet) {
			st, err := s.clusterAdmin.Status(r.Context())
			s.writeJSONOr(w, st, err)
		}
	case "/drain":
		if allowed(w, r, http.MethodPost) {
			node := r.URL.Query().Get("node")
			if node == "" {
				gateway.WriteError(w, errcode.New(errcode.BadRequest, "drain needs ?node=NAME"))
				return
			}
			s.writeJSONOr(w, map[string]string{"drained": node}, s.clusterAdmin.Drain(r.Context(), node))
		}
	default:
		gateway.WriteError(w, errcode.New(errcode.NotFound, "no cluster route %s", quote(rest)))
	}
}

func (s *Server) writeJSONOr(w http.ResponseWriter, v any, err error) {
	if err != nil {
		gateway.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// ClusterStatus returns the cluster's status as the server reports it.
func (c *Client) ClusterStatus(ctx context.Context) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.getJSON(ctx, clusterPath, nil, &raw)
	return raw, err
}

// Drain moves every shard of node away and returns once it holds none.
func (c *Client) Drain(ctx context.Context, node string) error {
	resp, err := c.do(ctx, http.MethodPost, clusterPath+"/drain", url.Values{"node": {node}}, nil, "")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
