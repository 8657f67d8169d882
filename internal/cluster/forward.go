package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/roost-dev/roost/internal/clock"
	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/gateway"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/runtime"
	"github.com/roost-dev/roost/internal/shards"
)

// Headers of a request one node forwards to another.
const (
	// TargetHeader names the object: "class/hexid". Its presence makes the
	// request a forwarded one.
	TargetHeader = "Roost-Forward-Object"
	// NameHeader is the object's name ("" when addressed by ID), escaped.
	NameHeader = "Roost-Forward-Name"
	// MethodHeader is the RPC method of a forwarded call.
	MethodHeader = "Roost-Forward-Method"
	// ChainHeader is the caller's call chain (see runtime.Chain).
	ChainHeader = "Roost-Forward-Chain"
	// DeadlineHeader is the caller's deadline, Unix milliseconds.
	DeadlineHeader = "Roost-Forward-Deadline"
	// SecretHeader carries Config.Secret.
	SecretHeader = "Roost-Cluster-Secret"
	// CallPath is where forwarded RPC calls go.
	CallPath = "/_roost/cluster/call"
)

func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
	}}
}

// Forward sends a request for an object this node does not own to the
// object's owner and returns the owner's answer; an error the owner
// reported comes back as the same error (code and message). A WebSocket
// upgrade is answered with a 101 response whose body proxies the client's
// connection to the owner (see gateway.Upgrader).
func (c *Cluster) Forward(ctx context.Context, class string, id ids.ID, name string, req *http.Request) (*http.Response, error) {
	body, err := readAll(req)
	if err != nil {
		return nil, err
	}
	if isUpgrade(req) {
		m, err := c.owner(ctx, class, id)
		if err != nil {
			return nil, err
		}
		return &http.Response{StatusCode: http.StatusSwitchingProtocols, Header: http.Header{},
			Body: &proxyUpgrade{c: c, to: m, class: class, id: id, name: name}}, nil
	}
	return c.send(ctx, class, id, func(m shards.Member) (*http.Request, error) {
		out, err := http.NewRequestWithContext(ctx, req.Method, "http://"+m.Addr+req.URL.RequestURI(), bytes.NewReader(body))
		if err == nil {
			out.Header = req.Header.Clone()
			c.sign(ctx, out, class, id, name)
		}
		return out, err
	})
}

// Call calls an RPC method of an object another node owns.
func (c *Cluster) Call(ctx context.Context, class string, id ids.ID, name, method string, payload []byte) ([]byte, error) {
	resp, err := c.send(ctx, class, id, func(m shards.Member) (*http.Request, error) {
		out, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+m.Addr+CallPath, bytes.NewReader(payload))
		if err == nil {
			out.Header.Set(MethodHeader, method)
			c.sign(ctx, out, class, id, name)
		}
		return out, err
	})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// send finds the owner and sends it the request build makes, again after a
// short wait when the owner said it is not (or no longer) the owner or
// could not be reached, since then the request did not run; until ctx ends
// or a few tries failed.
func (c *Cluster) send(ctx context.Context, class string, id ids.ID, build func(shards.Member) (*http.Request, error)) (*http.Response, error) {
	var last error
	for try := 0; try < 5; try++ {
		if try > 0 && !clock.Sleep(ctx, time.Duration(try)*c.cfg.Lease/4) {
			break
		}
		m, err := c.owner(ctx, class, id)
		if err != nil {
			return nil, err
		}
		req, err := build(m)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		resp, err := c.client.Do(req)
		c.metrics.forwarded(time.Since(start), err)
		if err != nil {
			if !isDialError(err) {
				return nil, unknownOutcome(ctx, m, err)
			}
			last = err
			continue
		}
		if err := gateway.ReadError(resp); err != nil {
			resp.Body.Close()
			if errcode.Of(err) == errcode.NotOwner {
				last = err
				continue
			}
			return nil, err
		}
		return resp, nil
	}
	if ctx.Err() != nil {
		return nil, errcode.Wrap(errcode.Of(ctx.Err()), ctx.Err())
	}
	return nil, &errcode.Error{Code: errcode.NotOwner, Message: fmt.Sprintf("no node could serve %s/%s now (%v); retry", class, id, last), Err: last}
}

// owner returns the member that owns the object's shard, waiting (bounded
// by ctx and two leases) while the shard has none (a failover).
func (c *Cluster) owner(ctx context.Context, class string, id ids.ID) (shards.Member, error) {
	wctx, cancel := context.WithTimeout(ctx, 2*c.cfg.Lease)
	defer cancel()
	m, err := c.shards.WaitOwner(wctx, c.shardOf(class, id))
	if err != nil {
		if ctx.Err() != nil {
			return m, errcode.Wrap(errcode.Of(ctx.Err()), ctx.Err())
		}
		return m, &errcode.Error{Code: errcode.NotOwner, Message: fmt.Sprintf("no node owns %s/%s now: %v; retry", class, id, err), Err: err}
	}
	return m, nil
}

// sign adds the forwarding headers to out.
func (c *Cluster) sign(ctx context.Context, out *http.Request, class string, id ids.ID, name string) {
	h := out.Header
	h.Set(TargetHeader, class+"/"+id.String())
	h.Set(NameHeader, url.PathEscape(name))
	if c.cfg.Secret != "" {
		h.Set(SecretHeader, c.cfg.Secret)
	}
	if d, ok := ctx.Deadline(); ok {
		h.Set(DeadlineHeader, strconv.FormatInt(d.UnixMilli(), 10))
	}
	if chain := runtime.Chain(ctx); len(chain) > 0 {
		parts := make([]string, len(chain))
		for i, l := range chain {
			parts[i] = l.Class + "/" + l.ID.String()
		}
		h.Set(ChainHeader, strings.Join(parts, ","))
	}
}

func readAll(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	return io.ReadAll(req.Body)
}

func isUpgrade(req *http.Request) bool {
	return strings.EqualFold(req.Header.Get("Upgrade"), "websocket")
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func unknownOutcome(ctx context.Context, m shards.Member, err error) error {
	if ctx.Err() != nil {
		return errcode.Wrap(errcode.Of(ctx.Err()), ctx.Err())
	}
	return &errcode.Error{Code: errcode.NoQuorum, Message: fmt.Sprintf("the owner node %s failed while it served the request (its outcome is unknown): %v", m.Name, err), Err: err}
}

func unavailableErr(what string, err error) error {
	return &errcode.Error{Code: errcode.NoQuorum, Message: fmt.Sprintf("%s: %v", what, err), Err: err}
}

// proxyUpgrade is the body of a forwarded WebSocket upgrade: it proxies the
// client's connection to the owner, which accepts or refuses the socket.
type proxyUpgrade struct {
	c     *Cluster
	to    shards.Member
	class string
	id    ids.ID
	name  string
}

func (p *proxyUpgrade) Read([]byte) (int, error) { return 0, io.EOF }
func (p *proxyUpgrade) Close() error             { return nil }

// Upgrade proxies the client's connection to the owner.
func (p *proxyUpgrade) Upgrade(w http.ResponseWriter, r *http.Request) error {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: "http", Host: p.to.Addr})
			pr.Out.URL.Path, pr.Out.URL.RawPath = r.URL.Path, r.URL.RawPath
			p.c.sign(r.Context(), pr.Out, p.class, p.id, p.name)
		},
		Transport: p.c.client.Transport,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			gateway.WriteError(w, &errcode.Error{Code: errcode.NotOwner, Message: "the owner node could not be reached: " + err.Error(), Err: err})
		},
	}
	rp.ServeHTTP(w, r)
	return nil
}
