package cluster

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/roost-dev/roost/internal/errcode"
	"github.com/roost-dev/roost/internal/ids"
	"github.com/roost-dev/roost/internal/runtime"
)

// Forwarded is a request another node forwarded to this one, taken apart.
type Forwarded struct {
	Class  string
	ID     ids.ID
	Name   string
	Method string // an RPC call's method; "" for a fetch
}

// IsForwarded reports whether r came from another node of the cluster.
func IsForwarded(r *http.Request) bool { return r.Header.Get(TargetHeader) != "" }

// Receive checks a forwarded request (the cluster's secret, or a loopback
// peer without one) and returns what it targets, with a context that
// carries the caller's deadline and call chain and marks the request as
// forwarded (it is not forwarded again: see WasForwarded).
func (c *Cluster) Receive(r *http.Request) (Forwarded, context.Context, context.CancelFunc, error) {
	var f Forwarded
	if err := c.authorize(r); err != nil {
		return f, nil, nil, err
	}
	class, hexID, ok := strings.Cut(r.Header.Get(TargetHeader), "/")
	id, err := ids.Parse(hexID)
	if !ok || err != nil || ids.ValidClass(class) != nil {
		return f, nil, nil, errcode.New(errcode.BadRequest, "bad %s header", TargetHeader)
	}
	name, err := url.PathUnescape(r.Header.Get(NameHeader))
	if err != nil {
		return f, nil, nil, errcode.New(errcode.BadRequest, "bad %s header", NameHeader)
	}
	f = Forwarded{Class: class, ID: id, Name: name, Method: r.Header.Get(MethodHeader)}
	ctx := context.WithValue(r.Context(), forwardedKey{}, f.Class+"/"+f.ID.String())
	ctx = runtime.WithChain(ctx, parseChain(r.Header.Get(ChainHeader)))
	cancel := context.CancelFunc(func() {})
	if ms, err := strconv.ParseInt(r.Header.Get(DeadlineHeader), 10, 64); err == nil {
		ctx, cancel = context.WithDeadline(ctx, time.UnixMilli(ms))
	}
	return f, ctx, cancel, nil
}

func (c *Cluster) authorize(r *http.Request) error {
	if c.cfg.Secret != "" {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(SecretHeader)), []byte(c.cfg.Secret)) != 1 {
			return errcode.New(errcode.Unauthorized, "a forwarded request needs the cluster's secret")
		}
		return nil
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errcode.New(errcode.Forbidden, "without --cluster-secret, forwarded requests are accepted from loopback addresses only")
	}
	return nil
}

func parseChain(s string) []runtime.ChainLink {
	var links []runtime.ChainLink
	for _, part := range strings.Split(s, ",") {
		class, hexID, ok := strings.Cut(part, "/")
		if id, err := ids.Parse(hexID); ok && err == nil {
			links = append(links, runtime.ChainLink{Class: class, ID: id})
		}
	}
	return links
}

type forwardedKey struct{}

// WasForwarded reports whether ctx is that of a request another node
// forwarded to this one for the object: such a request is served here or
// refused with not_owner, never forwarded again. (The calls its event makes
// to other objects are forwarded as usual.)
func WasForwarded(ctx context.Context, class string, id ids.ID) bool {
	v, _ := ctx.Value(forwardedKey{}).(string)
	return v == class+"/"+id.String()
}

// NotOwner is the error of a node asked to serve an object it does not own.
func NotOwner(class string, id ids.ID) error {
	return &errcode.Error{Code: errcode.NotOwner, Message: fmt.Sprintf("this node does not own %s/%s now; retry", class, id)}
}
