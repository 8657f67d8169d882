package chat

import (
	"embed"
	"net/http"
)

// static holds the page: plain HTML, CSS and JavaScript, no build step.
//
//go:embed static
var static embed.FS

// csp keeps the page to its own files and sockets.
const csp = "default-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// pageHandler serves the page at GET /.
func pageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		http.ServeFileFS(w, r, static, "static/index.html")
	})
}

// staticHandler serves GET /static/…: the embedded files keep their
// static/ prefix, so the request path is their name.
func staticHandler() http.Handler {
	return http.FileServerFS(static)
}
