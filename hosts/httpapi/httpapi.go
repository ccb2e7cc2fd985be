// Package httpapi serves Sendoka's HTTP API (the developer docs' /api/v1) on Huma v2.
//
// New returns a complete http.Handler: the operations, OpenAPI 3.1 at /api/v1/openapi.json,
// a reference page at /api/v1/docs (its script embedded: it works offline), a Postman
// collection at /api/v1/postman.json, /healthz and /readyz. It can be mounted under any
// prefix in any router:
//
//	mux.Handle("/mail/", http.StripPrefix("/mail", httpapi.New(client, httpapi.Options{})))
//
// Register adds just the operations to an existing Huma API.
//
// Every error response, whatever produced it (the core, authentication, Huma's own request
// validation, an unknown route, a panic), is the docs' envelope
//
//	{"error":{"type","code","message","request_id","errors":[{"path","code","message"}]}}
//
// with "errors" always an array ([] unless the code is VALIDATION_ERROR). Codes map to
// statuses in one table (ErrorStatus). Beyond the core's codes the HTTP layer adds a few of
// its own: an unknown route is 404 NOT_FOUND; a known path with the wrong method is 405
// METHOD_NOT_ALLOWED (type invalid_request_error, with an Allow header); a body over
// Options.MaxBodyBytes is 413 REQUEST_TOO_LARGE, and one not received within
// Options.BodyReadTimeout 408 REQUEST_TIMEOUT; a body that is not JSON or not sent as JSON
// is 422 VALIDATION_ERROR like any other malformed body; a JSON key that names a field only
// when case is ignored ("Bcc") is an unknown field; a panic is 500 INTERNAL_ERROR with a
// fixed message. A body that no route reads is drained or the connection closed (see
// Options.BodyReadTimeout), so a slow client cannot hold a connection with one.
//
// Each request's database work has a deadline, Options.DatabaseTimeout: a database that does
// not answer in time, or cannot be reached, is 503 SERVICE_UNAVAILABLE with Retry-After,
// never a hang and never a 500.
//
// Every response carries X-Request-Id: req_<ULID>, equal to error.request_id. The id is
// always minted here: an X-Request-Id sent by the caller is not reused, so ids stay unique
// and well-formed in our logs (the caller's value is logged as client_request_id).
package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/sendoka/sendoka/internal/cleanpath"
	"github.com/sendoka/sendoka/providers/snsnotify"
	"github.com/sendoka/sendoka/sendoka"
)

// DefaultBodyReadTimeout is the default of Options.BodyReadTimeout (Huma's own default).
const DefaultBodyReadTimeout = 5 * time.Second

// DefaultMaxBodyBytes is the default request body limit: room for the largest valid email,
// 7 MiB of attachments once base64-encoded (9.4 MiB) plus HTML and text bodies of up to
// 1 MiB each (more once JSON-escaped) and the rest of the message.
const DefaultMaxBodyBytes = 16 << 20

// headerRequestID is the response header that carries the request id.
const headerRequestID = "X-Request-Id"

// Options tunes the HTTP API. The zero value is a working configuration.
type Options struct {
	// Logger receives request failures (5xx, with their cause) and panics, and a debug line
	// per request. Default: nothing is logged.
	Logger *slog.Logger
	// TrustedProxies are the addresses of the proxies in front of Sendoka. A request whose
	// TCP peer is one of them has its caller (checked against a key's allowed_cidrs) read
	// from X-Forwarded-For: the rightmost address that is not a trusted proxy. Default: none,
	// X-Forwarded-For is ignored and the TCP peer address (RemoteAddr) is the caller.
	TrustedProxies []netip.Prefix
	// TrustProxyHeaders trusts every peer as a proxy and takes the last address of
	// X-Forwarded-For as the caller. Set it only behind such a proxy: otherwise callers
	// choose their own IP.
	//
	// Deprecated: use TrustedProxies, which names the proxies.
	TrustProxyHeaders bool
	// Ready reports whether the server can take traffic; /readyz answers 503 NOT_READY while
	// it returns an error, and 200 otherwise. It gets a context with ReadyTimeout as its
	// deadline, and a Ready that outlives it counts as not ready. Default: always ready.
	Ready func(ctx context.Context) error
	// ReadyTimeout bounds Ready, so /readyz answers within a second even when the database
	// does not answer at all. Default: DefaultReadyTimeout (800 ms).
	ReadyTimeout time.Duration
	// DatabaseTimeout is the time one request's database work may take: the key lookup and
	// the operation together, not counting the time the client takes to send its body. A
	// request whose database does not answer in time gets 503 SERVICE_UNAVAILABLE with
	// Retry-After, so a caller never waits on a frozen database for longer. Keep it above
	// the database's own statement timeout (storage/bunstore's StatementTimeout, 3 s), so
	// a statement stuck on a lock ends on the server first. Default:
	// DefaultDatabaseTimeout (4 s). Negative: no deadline.
	DatabaseTimeout time.Duration
	// Title and Version describe the API in the OpenAPI document. Default: "Sendoka API" and
	// "1.0.0".
	Title   string
	Version string
	// ServerURL is the OpenAPI document's server: the base URL the paths (/api/v1/…) hang
	// from. Default: "/", the origin that serves the document.
	ServerURL string
	// MaxBodyBytes limits request bodies; larger ones get 413 REQUEST_TOO_LARGE. Default:
	// DefaultMaxBodyBytes (16 MiB).
	MaxBodyBytes int64
	// BodyReadTimeout bounds reading a request body, from when the operation starts reading
	// it: a body not received by then is 408 REQUEST_TIMEOUT. New's handler also bounds the
	// bodies no operation reads (health checks, unknown routes, 405s, requests refused before
	// their body is read): after the answer at most 64 KiB of one is drained, within a second
	// (or BodyReadTimeout when shorter); a longer or slower body closes the connection.
	// Default: DefaultBodyReadTimeout (5 s).
	BodyReadTimeout time.Duration
	// Observe, when set, is called once per answered request, after the answer, with the
	// route that took it (the operation's pattern, "POST /api/v1/emails", or for requests no
	// operation took the fixed path, "GET /healthz", or "unmatched": never the raw path),
	// the status and the time taken: for metrics (hosts/metrics' Registry.HTTPRequest) and
	// to name the request's trace span. It runs on the request's goroutine and must not
	// block. Default: none.
	Observe func(r *http.Request, route string, status int, d time.Duration)
	// SNS verifies the messages Amazon SNS posts to the provider event routes
	// (POST /api/v1/providers/ses/events and /api/v1/providers/sns/sms-events): their
	// signature and topic. Nil: the routes answer every message 401 UNAUTHORIZED.
	SNS *snsnotify.Verifier
}

// Defaults of Options.
const (
	DefaultReadyTimeout    = 800 * time.Millisecond
	DefaultDatabaseTimeout = 4 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ServerURL == "" {
		o.ServerURL = "/"
	}
	if o.Title == "" {
		o.Title = "Sendoka API"
	}
	if o.Version == "" {
		o.Version = "1.0.0"
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.DatabaseTimeout == 0 {
		o.DatabaseTimeout = DefaultDatabaseTimeout
	}
	if o.BodyReadTimeout <= 0 {
		o.BodyReadTimeout = DefaultBodyReadTimeout
	}
	return o
}

// New returns Sendoka's complete HTTP API for c: the operations of Register on a fresh
// ServeMux and Huma API, OpenAPI 3.1 at /api/v1/openapi.json (and .yaml), a reference page
// at /api/v1/docs, a Postman collection at /api/v1/postman.json, /healthz (always 200) and
// /readyz (Options.Ready). The handler assigns request ids, recovers panics and answers
// unknown routes and methods with the envelope.
func New(c *sendoka.Client, opts Options) http.Handler {
	return newHandler(c, opts, nil)
}

// newHandler is New with a hook that may add routes to the API and mux (tests use it to add
// routes that fail in ways the real operations never do).
func newHandler(c *sendoka.Client, opts Options, extra func(api huma.API, mux *http.ServeMux)) http.Handler {
	opts = opts.withDefaults()
	mux := http.NewServeMux()
	api := humago.New(mux, apiConfig(opts))
	Register(api, c, opts)
	registerHealth(api, opts) // health.go
	if extra != nil {
		extra(api, mux)
	}
	// Huma registers its RFC 9457 error model for every operation's OpenAPI; our operations
	// document the envelope instead, so the unused model is dropped from the document.
	schemas := api.OpenAPI().Components.Schemas.Map()
	delete(schemas, "ErrorModel")
	delete(schemas, "ErrorDetail")

	mux.HandleFunc("GET /api/v1/docs", docsPage(opts.Title)) // docs.go
	mux.HandleFunc("GET "+docsScriptPath, docsScript)
	mux.HandleFunc("GET "+postmanPath, postmanHandler(api.OpenAPI(), opts.ServerURL)) // postman.go

	var h http.Handler = routeErrors(mux)
	h = recoverPanics(h, opts.Logger)
	h = withRequestID(h, opts.Logger, opts.Observe)
	return limitBody(h, opts.BodyReadTimeout) // outermost: it needs the server's ResponseWriter
}

// ready runs check and gives up when ctx ends, even if check does not: a Ready that ignores
// its context must not hold /readyz past its deadline.
func ready(ctx context.Context, check func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- check(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// apiConfig is Huma's configuration for New: JSON only, OpenAPI under /api/v1, and none of
// DefaultConfig's extras that would change the documented shapes ($schema fields and Link
// headers) or serve pages with absolute URLs that break under a mount prefix.
func apiConfig(opts Options) huma.Config {
	cfg := huma.DefaultConfig(opts.Title, opts.Version)
	cfg.Servers = []*huma.Server{{URL: opts.ServerURL, Description: "This Sendoka server"}}
	cfg.Info.Description = "Send transactional email and SMS through one API."
	cfg.Info.License = &huma.License{Name: "Apache 2.0", Identifier: "Apache-2.0"}
	cfg.Info.Contact = &huma.Contact{Name: "Sendoka", URL: "https://github.com/sendoka/sendoka"}
	cfg.OpenAPIPath = "/api/v1/openapi"
	cfg.DocsPath = "" // served by docsPage, with a relative spec URL
	cfg.SchemasPath = ""
	cfg.CreateHooks = nil
	// A map of our own: huma.DefaultFormats is process-wide and an app may add formats to it.
	cfg.Formats = map[string]huma.Format{
		"application/json": huma.DefaultJSONFormat,
		"json":             huma.DefaultJSONFormat,
	}
	return cfg
}

// withRequestID mints the request id, sets X-Request-Id before anything can be written and
// puts the id in the request's context for the envelope.
func withRequestID(next http.Handler, log *slog.Logger, observe func(*http.Request, string, int, time.Duration)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{requestID: newRequestID()}
		w.Header().Set(headerRequestID, st.requestID)
		r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
		rw := &responseWriter{ResponseWriter: w}
		start := time.Now()
		next.ServeHTTP(rw, r)
		route := st.route
		if route == "" {
			route = fixedRoute(r)
		}
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		took := time.Since(start)
		if observe != nil {
			observe(r, route, status, took)
		}
		// One line per request: no path (it can hold an address), body, or key.
		log.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("method", r.Method),
			slog.String("route", route), slog.Int("status", status),
			slog.Float64("latency_ms", float64(took.Microseconds())/1000),
			slog.String("request_id", st.requestID), slog.String("org_id", st.orgID),
			slog.String("key_prefix", st.keyPrefix))
	})
}

// fixedRoute names the route of a request no operation took: the fixed paths served beside
// the API by their path, anything else "unmatched".
func fixedRoute(r *http.Request) string {
	switch p := r.URL.Path; p {
	case "/healthz", "/readyz", "/api/v1/docs", docsScriptPath, postmanPath, "/api/v1/openapi.json", "/api/v1/openapi.yaml":
		return r.Method + " " + p
	}
	return "unmatched"
}

func newRequestID() string { return sendoka.NewID(sendoka.PrefixRequest, time.Now()) }

// recoverPanics turns a panic anywhere below into a 500 envelope when nothing was written
// yet; otherwise it aborts the connection, the only honest signal left.
func recoverPanics(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw, ok := w.(*responseWriter)
		if !ok {
			rw = &responseWriter{ResponseWriter: w}
		}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.ErrorContext(r.Context(), "panic", "request_id", RequestIDFrom(r.Context()),
				"method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rw.wrote {
				panic(http.ErrAbortHandler)
			}
			writeEnvelope(rw, sendoka.Internal(fmt.Errorf("panic: %v", v)), RequestIDFrom(r.Context()))
		}()
		next.ServeHTTP(rw, r)
	})
}

// routeErrors answers requests that match no route with the envelope: 404 NOT_FOUND, or
// 405 METHOD_NOT_ALLOWED with the mux's Allow header when the path exists.
//
// A path that is not in canonical form ("/api/v1/emails/..", "//org", "/t/o/./x") is 404
// NOT_FOUND too, where the mux would redirect to its cleaned form: an id of ".." names
// nothing, and a client that follows the redirect would send its request (a DELETE, say)
// to another resource than it named.
func routeErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" && (r.Method == http.MethodConnect || cleanpath.IsCanonical(r.URL.EscapedPath())) {
			mux.ServeHTTP(w, r)
			return
		}
		// Let the mux's own fallback tell 404 from 405 (and compute Allow), then discard
		// its plain-text body.
		probe := &probeWriter{header: http.Header{}}
		h.ServeHTTP(probe, r)
		rid := RequestIDFrom(r.Context())
		write := func(w http.ResponseWriter, e *sendoka.Error, rid string) { writeEnvelope(w, e, rid) }
		if isResendPath(r.URL.Path) {
			write = func(w http.ResponseWriter, e *sendoka.Error, _ string) {
				status, body := resendBody(e, false)
				w.Header().Set("X-Content-Type-Options", "nosniff")
				writeJSON(w, status, body)
			}
		}
		if probe.status == http.StatusMethodNotAllowed {
			if allow := probe.header.Get("Allow"); allow != "" {
				w.Header().Set("Allow", allow)
			}
			write(w, &sendoka.Error{Code: CodeMethodNotAllowed,
				Message: fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)}, rid)
			return
		}
		write(w, &sendoka.Error{Code: sendoka.CodeNotFound,
			Message: "no route " + r.Method + " " + r.URL.Path}, rid)
	})
}

// responseWriter remembers whether the response has started, for recoverPanics.
type responseWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status = code
	}
	// 1xx responses are informational: the real status is still to come.
	if code >= 200 {
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (Huma's body read deadline, flushing) reach the
// server's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// probeWriter records a status and headers and discards the body.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header         { return p.header }
func (p *probeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (p *probeWriter) WriteHeader(code int)        { p.status = code }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = jsonEncode(w, v)
}

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
