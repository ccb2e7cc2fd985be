package httpapi

import (
	_ "embed"
	"html"
	"net/http"
)

// redocScript is the vendored Redoc standalone bundle (docsassets/README.md says which
// version and how to update it).
//
//go:embed docsassets/redoc.standalone.js
var redocScript []byte

// docsScriptPath is where the reference page's script is served: beside the page, so the
// page finds it by a relative URL under any mount prefix.
const docsScriptPath = "/api/v1/docs/redoc.standalone.js"

// docsPage serves the API reference (Redoc) from this binary alone: the script is embedded
// and the spec loaded by a relative URL, so the page works offline and under any mount
// prefix (Huma's built-in page loads its script from a CDN and uses an absolute path).
func docsPage(title string) http.HandlerFunc {
	body := []byte(`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="referrer" content="no-referrer">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>` + html.EscapeString(title) + ` Reference</title>
  </head>
  <body style="margin: 0;">
    <redoc spec-url="openapi.json"></redoc>
    <script src="docs/redoc.standalone.js"></script>
  </body>
</html>`)
	// Redoc styles itself inline and runs its search in a worker made from a blob; nothing
	// is loaded from elsewhere.
	csp := "default-src 'none'; base-uri 'none'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; " +
		"img-src 'self' data:; font-src 'self' data:; script-src 'self'; worker-src blob:; style-src 'unsafe-inline'"
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", csp)
		_, _ = w.Write(body)
	}
}

// docsScript serves the embedded Redoc bundle; it changes only with the binary.
func docsScript(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(redocScript)
}
