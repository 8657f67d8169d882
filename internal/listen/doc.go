// Package listen holds how Roost's HTTP server meets its clients: a TCP
// [Listener] that bounds the open client connections, and the http.Server
// whose timeouts close idle and slow ones ([Server]). `roost serve`
// (cmd/roost) builds its server with it, and so will a cluster node.
//
// Every client connection holds a file descriptor from accept to close, a
// WebSocket's too after its upgrade (net/http hands the connection to the
// socket hub, which closes it through the Listener's wrapper, so it stays
// counted). Without a bound, idle keep-alive connections and bodies that
// never end exhausted the process's descriptors, after which it could
// neither accept nor open objects' databases (issue 12). So:
//
//   - [Listener] counts the open connections. Past Config.MaxConns it still
//     accepts a new one, but only to answer it at once with 503 and the JSON
//     error {"error":{"code":"overloaded",…}} and Retry-After: 1, then close
//     it: the client learns why, the kernel's backlog does not fill, and the
//     connections already open keep being served.
//   - [Budget] derives the bound from the process's open-file limit,
//     leaving the descriptors the server keeps for its own files (objects'
//     databases) aside.
//   - [Server] sets the header timeout (a request's line and headers) and
//     the idle timeout (a keep-alive connection between requests). The
//     timeout for a request's body is the gateway's (internal/gateway):
//     only it knows which requests have a body, so that long polls and
//     WebSockets, which have none, stay open.
//
// It imports the leaf errcode only.
package listen
