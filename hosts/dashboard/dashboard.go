// Package dashboard serves Sendoka's web UI: server-rendered pages (html/template) with htmx
// for partial updates and server-rendered SVG charts. Every asset is embedded (no CDN, no
// Node build), so it works offline.
//
// It calls the core through the same *sendoka.Client methods as the HTTP API, as a
// sendoka.Principal built from the signed-in user (sendoka.UserPrincipal): it has no queries
// of its own, and a user can do nothing here that the API would not let them do. Viewers
// hold read scopes only, so the core refuses their writes whatever the page shows; a
// tenant-bound user sees only that tenant.
//
// Mount it at the root, beside the API (Options.Fallback gets every request the dashboard
// has no route for), or under a prefix:
//
//	mux.Handle("/admin/", http.StripPrefix("/admin", dashboard.New(client, dashboard.Options{Prefix: "/admin"})))
//
// Security: sessions are stored in the database (sign-out and revocation take effect on the
// next request, on every node); the session cookie is HttpOnly, SameSite=Lax, and Secure
// over https; every form carries a CSRF token tied to the session; sign-in is rate-limited
// per client address and per email with one generic error; every page is sent with a
// strict Content-Security-Policy (scripts from the dashboard's own files only, no inline
// script). Message and template HTML is only ever shown in a sandboxed iframe whose
// document has its own policy: no script, no remote loads unless the user asks for images.
package dashboard

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sendoka/sendoka/internal/cleanpath"
	"github.com/sendoka/sendoka/sendoka"
)

//go:embed assets templates
var files embed.FS

// Options configures the dashboard. The zero value serves it at the root.
type Options struct {
	// Prefix is the path the dashboard is mounted under with http.StripPrefix ("/admin"),
	// used to build its links. Default: "", the root.
	Prefix string
	// Fallback serves the requests that match no dashboard route, such as the API's when
	// both share the root. Default: 404.
	Fallback http.Handler
	// Logger receives errors the user is not shown in full. Default: quiet.
	Logger *slog.Logger
	// LoginAttempts is how many sign-in attempts a client address, and an email, may make
	// per LoginWindow; the next are refused until the window passes. Default: 10 per 10
	// minutes.
	LoginAttempts int
	LoginWindow   time.Duration
	// SecureCookies sets the Secure flag on every cookie, for a dashboard behind a proxy
	// that terminates TLS. Cookies are Secure anyway on requests that came over TLS.
	SecureCookies bool
	// Now tells the time for the login rate limit. Default: time.Now.
	Now func() time.Time
}

type handler struct {
	c       *sendoka.Client
	o       Options
	mux     *http.ServeMux
	pages   *pages
	limiter *limiter
	log     *slog.Logger
}

// New returns the dashboard for c.
func New(c *sendoka.Client, o Options) http.Handler {
	o.Prefix = strings.TrimSuffix(o.Prefix, "/")
	if o.LoginAttempts <= 0 {
		o.LoginAttempts = 10
	}
	if o.LoginWindow <= 0 {
		o.LoginWindow = 10 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{c: c, o: o, mux: http.NewServeMux(), log: log,
		limiter: newLimiter(o.LoginAttempts, o.LoginWindow, o.Now)}
	h.pages = mustParsePages(o.Prefix)
	h.routes()
	return h
}

func (h *handler) routes() {
	m := h.mux
	assets, _ := fs.Sub(files, "assets")
	m.Handle("GET /assets/", http.StripPrefix("/assets/", cacheAssets(http.FileServerFS(assets))))
	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		b, _ := files.ReadFile("assets/favicon.svg")
		_, _ = w.Write(b)
	})
	m.HandleFunc("GET /login", h.loginPage)
	m.HandleFunc("POST /login", h.login)
	m.HandleFunc("GET /signin/{token}", h.linkPage)
	m.HandleFunc("POST /signin/{token}", h.redeemLink)
	m.HandleFunc("POST /logout", h.session(h.logout))
	m.HandleFunc("POST /mode", h.session(h.setMode))

	m.HandleFunc("GET /{$}", h.view(h.overview))
	m.HandleFunc("GET /messages", h.view(h.messages))
	m.HandleFunc("GET /messages/{id}", h.view(h.message))
	m.HandleFunc("GET /messages/{id}/preview", h.view(h.messagePreview))
	m.HandleFunc("GET /messages/{id}/raw", h.view(h.messageRaw))
	m.HandleFunc("POST /messages/{id}/cancel", h.write(h.cancelMessage))
	m.HandleFunc("POST /messages/{id}/reschedule", h.write(h.rescheduleMessage))

	m.HandleFunc("GET /templates", h.view(h.templates))
	m.HandleFunc("POST /templates", h.write(h.createTemplate))
	m.HandleFunc("GET /templates/{id}", h.view(h.template))
	m.HandleFunc("POST /templates/{id}", h.write(h.updateTemplate))
	m.HandleFunc("POST /templates/{id}/delete", h.write(h.deleteTemplate))
	m.HandleFunc("POST /templates/{id}/test", h.write(h.sendTestEmail))
	// Previews change nothing: viewers may use them, but they still need the CSRF token.
	m.HandleFunc("POST /template-preview", h.read(h.templatePreviewFrame))
	m.HandleFunc("POST /template-preview/info", h.read(h.templatePreviewInfo))

	m.HandleFunc("GET /webhooks", h.view(h.webhooks))
	m.HandleFunc("POST /webhooks", h.write(h.createWebhook))
	m.HandleFunc("GET /webhooks/{id}", h.view(h.webhook))
	m.HandleFunc("GET /webhooks/{id}/deliveries", h.view(h.webhookDeliveries))
	m.HandleFunc("POST /webhooks/{id}/rotate", h.write(h.rotateWebhook))
	m.HandleFunc("POST /webhooks/{id}/enabled", h.write(h.enableWebhook))
	m.HandleFunc("POST /webhooks/{id}/test", h.write(h.testWebhook))
	m.HandleFunc("POST /webhooks/{id}/replay", h.write(h.replayWebhooks))
	m.HandleFunc("POST /webhooks/{id}/deliveries/{did}/replay", h.write(h.replayWebhook))
	m.HandleFunc("POST /webhooks/{id}/delete", h.write(h.deleteWebhook))

	m.HandleFunc("GET /domains", h.view(h.domains))
	m.HandleFunc("POST /domains", h.write(h.createDomain))
	m.HandleFunc("GET /domains/{id}", h.view(h.domain))
	m.HandleFunc("POST /domains/{id}/verify", h.write(h.verifyDomain))
	m.HandleFunc("POST /domains/{id}/delete", h.write(h.deleteDomain))

	m.HandleFunc("GET /api-keys", h.view(h.apiKeys))
	m.HandleFunc("POST /api-keys", h.write(h.createAPIKey))
	m.HandleFunc("POST /api-keys/{id}/revoke", h.write(h.revokeAPIKey))

	m.HandleFunc("GET /suppressions", h.view(h.suppressions))
	m.HandleFunc("POST /suppressions", h.write(h.addSuppression))
	m.HandleFunc("GET /suppressions/remove", h.view(h.confirmRemoveSuppression))
	m.HandleFunc("POST /suppressions/remove", h.write(h.removeSuppression))

	m.HandleFunc("GET /users", h.view(h.users))
	m.HandleFunc("POST /users", h.write(h.inviteUser))
	m.HandleFunc("POST /users/{id}/delete", h.write(h.deleteUser))
	m.HandleFunc("POST /users/{id}/revoke", h.write(h.revokeUser))

	m.HandleFunc("GET /tenants", h.view(h.tenants))
	m.HandleFunc("POST /tenants", h.write(h.createTenant))
	m.HandleFunc("GET /usage", h.view(h.usage))
	m.HandleFunc("GET /phone-numbers", h.view(h.phoneNumbers))
	m.HandleFunc("GET /audiences", h.view(h.audiences))
	m.HandleFunc("POST /audiences", h.write(h.createAudience))
	m.HandleFunc("GET /audiences/{id}", h.view(h.audience))
	m.HandleFunc("POST /audiences/{id}/import", h.write(h.importContacts))
	m.HandleFunc("POST /audiences/{id}/send", h.write(h.sendAudience))
	m.HandleFunc("GET /audiences/{id}/sends/{sid}", h.view(h.audienceSend))
}

// ServeHTTP sends every dashboard response with the security headers, and the rest to the
// fallback.
//
// A path not in canonical form goes to the fallback too, rather than to the mux's redirect
// to its cleaned form: "/t/o/../.." is a malformed API path (the API answers 404 in its
// envelope), not a link to the dashboard's root.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" || !cleanpath.IsCanonical(r.URL.EscapedPath()) {
		if h.o.Fallback != nil {
			h.o.Fallback.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", pageCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// pageCSP is the policy of every dashboard page: its own scripts and styles only, no inline
// script or style, frames only from itself (the sandboxed previews), forms only to itself.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"

func cacheAssets(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}
