// Package editor is the collaborative editor demo of `roost serve`: the
// page at GET /editor?doc={name} is a text area that every page open on the
// same document edits at once, with who is there. The document is an
// object of the built-in yjs class (package yjs) at /yjs/{name}; the page
// speaks to it with unmodified yjs and y-websocket, bundled into
// static/yjs.js by clients/ts/scripts/vendor-yjs.mjs (npm run vendor-yjs).
package editor

import (
	"embed"
	"net/http"

	"github.com/roost-dev/roost"
)

// static holds the page: HTML, a small ES module, and the yjs bundle.
//
//go:embed static
var static embed.FS

// csp keeps the page to its own files and sockets.
const csp = "default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Register mounts the page on app: GET /editor and GET /editor/static/.
// The documents are the yjs class's, which app must have registered as
// "yjs" (roost serve does).
func Register(app *roost.App) {
	app.Handle("GET /editor", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		http.ServeFileFS(w, r, static, "static/index.html")
	}))
	app.Handle("GET /editor/static/", http.StripPrefix("/editor", http.FileServerFS(static)))
}
