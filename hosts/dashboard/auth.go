package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sendoka/sendoka/sendoka"
)

// Cookies. The session cookie holds the session token (its hash is stored); the login
// cookie is the double-submit CSRF token of the forms shown before a session exists.
const (
	cookieSession = "sendoka_session"
	cookieLogin   = "sendoka_login"
	cookieMode    = "sendoka_mode"
	cookieFlash   = "sendoka_flash"
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
)

// rq is one signed-in request.
type rq struct {
	w    http.ResponseWriter
	r    *http.Request
	user *sendoka.User
	p    *sendoka.Principal
	csrf string
	mode sendoka.Mode
}

// csrfFor derives a session's CSRF token: an HMAC of a fixed label keyed by the session
// token, so it needs no storage and dies with the session.
func csrfFor(session string) string {
	m := hmac.New(sha256.New, []byte(session))
	m.Write([]byte("sendoka dashboard csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func tokenEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (h *handler) secure(r *http.Request) bool { return h.o.SecureCookies || r.TLS != nil }

func (h *handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	path := h.o.Prefix + "/"
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.secure(r)})
}

// signedIn returns the request's user and session token, or nil.
func (h *handler) signedIn(r *http.Request) (*sendoka.User, string, error) {
	c, err := r.Cookie(cookieSession)
	if err != nil || c.Value == "" {
		return nil, "", nil
	}
	u, err := h.c.AuthenticateSession(r.Context(), c.Value)
	if sendoka.ErrorCode(err) == sendoka.CodeUnauthorized {
		return nil, "", nil
	}
	return u, c.Value, err
}

// session runs fn for a signed-in user; a POST must carry the session's CSRF token.
func (h *handler) session(fn func(*rq) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, token, err := h.signedIn(r)
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		if u == nil {
			if r.Method == http.MethodGet && r.Header.Get("HX-Request") == "" {
				http.Redirect(w, r, h.o.Prefix+"/login?next="+urlQueryEscape(h.o.Prefix+r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "Your session has ended: sign in again.", http.StatusUnauthorized)
			return
		}
		x := &rq{w: w, r: r, user: u, csrf: csrfFor(token), mode: sendoka.ModeLive}
		if c, err := r.Cookie(cookieMode); err == nil && c.Value == string(sendoka.ModeTest) {
			x.mode = sendoka.ModeTest
		}
		x.p = sendoka.UserPrincipal(u, x.mode)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			got := r.Header.Get(csrfHeader)
			if got == "" {
				got = r.PostFormValue(csrfField)
			}
			if !tokenEqual(got, x.csrf) {
				http.Error(w, "This form has expired or did not come from the dashboard: reload the page and try again.", http.StatusForbidden)
				return
			}
		}
		if err := fn(x); err != nil {
			h.fail(w, r, x, err)
		}
	}
}

// view is a page any signed-in user may see.
func (h *handler) view(fn func(*rq) error) http.HandlerFunc { return h.session(fn) }

// read is a POST that changes nothing (a preview): any signed-in user, with the CSRF token.
func (h *handler) read(fn func(*rq) error) http.HandlerFunc { return h.session(fn) }

// write is a POST that changes something: refused to viewers here, and by the core's scopes
// anyway.
func (h *handler) write(fn func(*rq) error) http.HandlerFunc {
	return h.session(func(x *rq) error {
		if x.user.Role == sendoka.RoleViewer {
			return sendoka.Errorf(sendoka.CodeInsufficientScope, "viewers cannot change anything")
		}
		return fn(x)
	})
}

// loginCSRF returns the double-submit token of the pre-session forms, setting its cookie
// when there is none.
func (h *handler) loginCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(cookieLogin); err == nil && len(c.Value) >= 16 {
		return c.Value
	}
	t := randomToken()
	h.setCookie(w, r, cookieLogin, t, 3600)
	return t
}

func (h *handler) loginCSRFOK(r *http.Request) bool {
	c, err := r.Cookie(cookieLogin)
	return err == nil && tokenEqual(r.PostFormValue(csrfField), c.Value)
}

type loginData struct {
	CSRF, Email, Next, Error string
}

func (h *handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if u, _, _ := h.signedIn(r); u != nil {
		http.Redirect(w, r, h.o.Prefix+"/", http.StatusSeeOther)
		return
	}
	h.pages.render(w, http.StatusOK, "login", &layout{Title: "Sign in"}, loginData{CSRF: h.loginCSRF(w, r), Next: safeNext(r.URL.Query().Get("next"), h.o.Prefix)})
}

// errLogin is the one message for every failed sign-in.
const errLogin = "Invalid email or password."

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	data := loginData{CSRF: h.loginCSRF(w, r), Email: email, Next: safeNext(r.PostFormValue("next"), h.o.Prefix)}
	if !h.loginCSRFOK(r) {
		data.Error = "This form has expired: try again."
		h.pages.render(w, http.StatusForbidden, "login", &layout{Title: "Sign in"}, data)
		return
	}
	keys := []string{"ip:" + clientIP(r), "email:" + email}
	if !h.limiter.allow(keys...) {
		data.Error = "Too many sign-in attempts. Try again later."
		w.Header().Set("Retry-After", "60")
		h.pages.render(w, http.StatusTooManyRequests, "login", &layout{Title: "Sign in"}, data)
		return
	}
	s, err := h.c.SignIn(r.Context(), email, r.PostFormValue("password"))
	if err != nil {
		if sendoka.ErrorCode(err) != sendoka.CodeUnauthorized {
			h.fail(w, r, nil, err)
			return
		}
		h.limiter.fail(keys...)
		data.Error = errLogin
		h.pages.render(w, http.StatusUnauthorized, "login", &layout{Title: "Sign in"}, data)
		return
	}
	h.startSession(w, r, s, data.Next)
}

func (h *handler) startSession(w http.ResponseWriter, r *http.Request, s *sendoka.Session, next string) {
	h.setCookie(w, r, cookieSession, s.Token, int(time.Until(s.ExpiresAt).Seconds()))
	h.setCookie(w, r, cookieLogin, "", -1)
	if next == "" {
		next = h.o.Prefix + "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// safeNext keeps a redirect target on the dashboard: a path under the prefix, never
// another host ("//evil", "/\evil").
func safeNext(next, prefix string) string {
	if next == "" || !strings.HasPrefix(next, prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return ""
	}
	return next
}

func (h *handler) logout(x *rq) error {
	if c, err := x.r.Cookie(cookieSession); err == nil {
		if err := h.c.SignOut(x.r.Context(), c.Value); err != nil {
			return err
		}
	}
	h.setCookie(x.w, x.r, cookieSession, "", -1)
	http.Redirect(x.w, x.r, h.o.Prefix+"/login", http.StatusSeeOther)
	return nil
}

func (h *handler) setMode(x *rq) error {
	mode := sendoka.ModeLive
	if x.r.PostFormValue("mode") == string(sendoka.ModeTest) {
		mode = sendoka.ModeTest
	}
	h.setCookie(x.w, x.r, cookieMode, string(mode), 365*24*3600)
	back := safeNext(x.r.PostFormValue("next"), h.o.Prefix)
	if back == "" {
		back = h.o.Prefix + "/"
	}
	http.Redirect(x.w, x.r, back, http.StatusSeeOther)
	return nil
}

type linkData struct {
	CSRF, Email, Error string
}

func (h *handler) linkPage(w http.ResponseWriter, r *http.Request) {
	u, err := h.c.SignInLinkUser(r.Context(), r.PathValue("token"))
	if err != nil {
		h.pages.render(w, http.StatusNotFound, "link", &layout{Title: "Sign-in link"}, linkData{Error: "This sign-in link is not valid: it was used already, or it expired. Ask an owner for a new one."})
		return
	}
	h.pages.render(w, http.StatusOK, "link", &layout{Title: "Set your password"}, linkData{CSRF: h.loginCSRF(w, r), Email: u.Email})
}

func (h *handler) redeemLink(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	data := linkData{CSRF: h.loginCSRF(w, r)}
	if !h.loginCSRFOK(r) {
		data.Error = "This form has expired: try again."
		h.pages.render(w, http.StatusForbidden, "link", &layout{Title: "Set your password"}, data)
		return
	}
	if !h.limiter.allow("ip:" + clientIP(r)) {
		data.Error = "Too many attempts. Try again later."
		h.pages.render(w, http.StatusTooManyRequests, "link", &layout{Title: "Set your password"}, data)
		return
	}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("confirm") {
		u, _ := h.c.SignInLinkUser(r.Context(), token)
		if u != nil {
			data.Email = u.Email
		}
		data.Error = "The two passwords differ."
		h.pages.render(w, http.StatusUnprocessableEntity, "link", &layout{Title: "Set your password"}, data)
		return
	}
	s, err := h.c.RedeemSignInLink(r.Context(), token, pw)
	if err != nil {
		h.limiter.fail("ip:" + clientIP(r))
		if u, _ := h.c.SignInLinkUser(r.Context(), token); u != nil {
			data.Email = u.Email
		}
		data.Error = userMessage(err)
		h.pages.render(w, statusOf(err), "link", &layout{Title: "Set your password"}, data)
		return
	}
	h.startSession(w, r, s, "")
}

// clientIP is the connection's address: the dashboard trusts no forwarding header.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limiter counts failed attempts per key in a fixed window. It is per process: with several
// nodes an attacker gets the limit on each.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	counts map[string]*window
}

type window struct {
	start time.Time
	n     int
}

// maxLimiterKeys bounds the limiter's memory: past it, windows that ended are dropped.
const maxLimiterKeys = 100_000

func newLimiter(max int, w time.Duration, now func() time.Time) *limiter {
	return &limiter{max: max, window: w, now: now, counts: map[string]*window{}}
}

func (l *limiter) allow(keys ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		if w := l.counts[k]; w != nil && now.Sub(w.start) < l.window && w.n >= l.max {
			return false
		}
	}
	return true
}

func (l *limiter) fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.counts) > maxLimiterKeys {
		for k, w := range l.counts {
			if now.Sub(w.start) >= l.window {
				delete(l.counts, k)
			}
		}
	}
	for _, k := range keys {
		w := l.counts[k]
		if w == nil || now.Sub(w.start) >= l.window {
			w = &window{start: now}
			l.counts[k] = w
		}
		w.n++
	}
}
