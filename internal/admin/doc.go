// Package admin is Roost's operator API: the HTTP handler behind
// `roost objects` (list, inspect, SQL, export, import, remove), and the Go
// client the CLI talks to it with.
//
// In Roost's architecture it sits beside the gateway: it imports the
// standard library, the leaves ids and errcode, and the gateway (for its
// route rules and its JSON errors). It reaches the objects through the
// [Objects] interface it declares, which the node (internal/node) implements by
// delivering each operation as an event in the object's turn; it never
// imports the root package.
//
// # Routes
//
// The app mounts the [Server] at /_roost/ beside the objects:
//
//	GET    /_roost/objects?class=&sort=&limit=&cursor=&stale=   list, paged (sort: key, size, active, created)
//	GET    /_roost/objects/{class}/{name}                inspect (?keys_only=&prefix=&start=&cursor=&limit=&value_bytes=)
//	POST   /_roost/objects/{class}/{name}/sql            {"query","args","write","max_rows"} → columns and rows
//	GET    /_roost/objects/{class}/{name}/export         the object's database, application/vnd.sqlite3
//	PUT    /_roost/objects/{class}/{name}/import?force=1 body: a SQLite database file
//	DELETE /_roost/objects/{class}/{name}                remove the object's data
//	GET    /_roost/classes                               the classes, with their RPC methods' JSON Schemas (roost gen ts)
//
// /{class}/id/{hexid} addresses an object by ID wherever /{class}/{name}
// does. Names and IDs follow the gateway's rules ([gateway.ParseRoute]):
// each segment is percent-decoded on its own, so a name may hold %2F.
// Answers are JSON; errors are the gateway's {"error":{"code","message"}}.
//
// # Who may call it
//
// Without a token ([Config.Token] empty, the default), only loopback callers
// are served: the connection's remote address must be 127.0.0.0/8 or ::1,
// and others get 403 forbidden. X-Forwarded-For and similar headers are
// never trusted. So that a web page in a local browser cannot reach the API
// either, a loopback caller must also name a loopback host (Host header
// localhost, 127.x.x.x or [::1]; this defeats DNS rebinding) and send no
// Origin header, and SQL must be posted as application/json (a type that a
// cross-site form cannot send).
//
// With a token, every caller, local or not, must send
// "Authorization: Bearer <token>"; a missing or wrong token gets 401
// unauthorized. Tokens are compared in constant time.
//
// DON'T put the API behind a reverse proxy on the same host without a
// token: the proxy connects from loopback, so every caller it forwards
// would look local. Set a token then (roost serve --admin-token, or
// ROOST_ADMIN_TOKEN), and serve it over TLS if it crosses a network.
package admin
