package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/roost-dev/roost/internal/errcode"
)

// authorize decides whether r may use the API: see the package
// documentation. It looks only at the connection's address and at headers
// that a forwarding proxy cannot be trusted to set: never at
// X-Forwarded-For.
func (s *Server) authorize(r *http.Request) error {
	if s.tokenSum != nil {
		return s.checkToken(r)
	}
	switch {
	case !loopbackAddr(r.RemoteAddr):
		return errcode.New(errcode.Forbidden, "the admin API serves only loopback callers when the server has no admin token; "+
			"start it with --admin-token (or ROOST_ADMIN_TOKEN) and call it with --token")
	case !loopbackHost(r.Host):
		return errcode.New(errcode.Forbidden, "the admin API without a token answers only requests for a loopback host "+
			"(localhost, 127.0.0.1 or [::1]), not %s; use --server http://127.0.0.1:PORT, or set an admin token", quote(r.Host))
	case r.Header.Get("Origin") != "":
		return errcode.New(errcode.Forbidden, "the admin API refuses requests from web pages (they carry an Origin header)")
	}
	return nil
}

// checkToken requires "Authorization: Bearer <token>".
func (s *Server) checkToken(r *http.Request) error {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return errcode.New(errcode.Unauthorized, "the admin API needs its token: send Authorization: Bearer <token> "+
			"(roost objects --token, or ROOST_ADMIN_TOKEN)")
	}
	// Comparing hashes keeps the comparison constant-time in the token's
	// length too.
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], s.tokenSum) != 1 {
		return errcode.New(errcode.Unauthorized, "wrong admin token")
	}
	return nil
}

// loopbackAddr reports whether a connection's remote address (host:port)
// is 127.0.0.0/8 or ::1, IPv4-mapped forms included.
func loopbackAddr(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// loopbackHost reports whether a Host header names this machine's loopback
// interface: localhost or a loopback IP, with any port. An empty Host
// (HTTP/1.0) passes: browsers always send one.
func loopbackHost(host string) bool {
	if host == "" {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
