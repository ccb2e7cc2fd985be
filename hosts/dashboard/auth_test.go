package dashboard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/dashboard"
	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
)

func sessionCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "sendoka_session" {
			return c
		}
	}
	return nil
}

// TestSignIn: a wrong password and an unknown email get one generic message; a good one sets
// an HttpOnly, SameSite=Lax session cookie; signing out ends the session at once, so the old
// cookie replayed is sent to the login page.
func TestSignIn(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, d bunstore.Dialect) {
		b := setup(t, d)
		w := b.web(t)
		res, body := w.get("/messages")
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		require.Equal(t, "/login?next=%2Fmessages", res.Header.Get("Location"))

		res, wrong := w.login(ownerEmail, "not the password")
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		require.Contains(t, wrong, "Invalid email or password.")
		res, unknown := w.login("nobody@example.com", ownerPW)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		require.Contains(t, unknown, "Invalid email or password.")
		require.NotContains(t, unknown, "nobody@example.com is", "nothing tells whether the user exists")

		res, body = w.login(ownerEmail, ownerPW)
		require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
		c := sessionCookie(res)
		require.NotNil(t, c)
		require.True(t, c.HttpOnly)
		require.Equal(t, http.SameSiteLaxMode, c.SameSite)
		require.False(t, c.Secure, "plain http")
		res, body = w.get("/")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, body, ownerEmail)
		csp := res.Header.Get("Content-Security-Policy")
		require.Contains(t, csp, "script-src 'self'")
		require.NotContains(t, csp, "unsafe-inline")

		tok := w.csrf("/")
		res, _ = w.post("/logout", url.Values{"csrf": {tok}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		replay := b.web(t)
		u, _ := url.Parse(b.base)
		replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
		res, _ = replay.get("/")
		require.Equal(t, http.StatusSeeOther, res.StatusCode, "a signed-out session is refused")
		require.True(t, strings.HasPrefix(res.Header.Get("Location"), "/login"))
	})
}

// TestSecureCookie: over TLS the session cookie is Secure.
func TestSecureCookie(t *testing.T) {
	t.Parallel()
	b := setup(t, bunstore.DialectSQLite)
	ts := httptest.NewTLSServer(b.srv.Handler)
	t.Cleanup(ts.Close)
	w := b.web(t)
	w.base = ts.URL
	w.c.Transport = ts.Client().Transport
	res, body := w.login(ownerEmail, ownerPW)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
	c := sessionCookie(res)
	require.NotNil(t, c)
	require.True(t, c.Secure)
}

// TestRevocation: an owner ending a viewer's sessions, or removing the viewer, signs them
// out on their next request.
func TestRevocation(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, d bunstore.Dialect) {
		b := setup(t, d)
		viewer := b.web(t)
		viewer.mustLogin(viewerEmail, viewerPW)
		res, _ := viewer.get("/templates")
		require.Equal(t, http.StatusOK, res.StatusCode)

		owner := b.web(t)
		owner.mustLogin(ownerEmail, ownerPW)
		tok := owner.csrf("/users")
		res, body := owner.post("/users/"+b.viewer.ID+"/revoke", url.Values{"csrf": {tok}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
		res, _ = viewer.get("/templates")
		require.Equal(t, http.StatusSeeOther, res.StatusCode, "revoked at once")

		viewer.mustLogin(viewerEmail, viewerPW)
		res, body = owner.post("/users/"+b.viewer.ID+"/delete", url.Values{"csrf": {tok}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
		res, _ = viewer.get("/templates")
		require.Equal(t, http.StatusSeeOther, res.StatusCode, "a removed user's session ends")
		res, _ = viewer.login(viewerEmail, viewerPW)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	})
}

// TestCSRF: a signed-in form post without the token, or with another session's, is refused
// and changes nothing; the login form needs its own token too.
func TestCSRF(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, d bunstore.Dialect) {
		b := setup(t, d)
		w := b.web(t)
		w.mustLogin(ownerEmail, ownerPW)
		other := b.web(t)
		other.mustLogin(ownerEmail, ownerPW)
		foreign := other.csrf("/templates")

		for _, tok := range []string{"", foreign, "x"} {
			res, body := w.post("/templates", url.Values{"csrf": {tok}, "slug": {"welcome"}, "channel": {"email"}})
			require.Equal(t, http.StatusForbidden, res.StatusCode, body)
		}
		list, err := b.srv.Client.ListTemplates(context.Background(), b.root, sendoka.TemplateListParams{})
		require.NoError(t, err)
		require.Empty(t, list.Templates, "a refused post changes nothing")

		res, body := w.post("/templates", url.Values{"csrf": {w.csrf("/templates")}, "slug": {"welcome"}, "channel": {"email"}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, body)

		fresh := b.web(t)
		res, _ = fresh.post("/login", url.Values{"email": {ownerEmail}, "password": {ownerPW}})
		require.Equal(t, http.StatusForbidden, res.StatusCode, "the login form without its token")
		require.Nil(t, sessionCookie(res))
	})
}

// TestViewer: a viewer sees pages without their forms, and every change is refused, even
// with a valid token; previews (which change nothing) work.
func TestViewer(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, d bunstore.Dialect) {
		b := setup(t, d)
		ctx := context.Background()
		tpl, err := b.srv.Client.CreateTemplate(ctx, b.root, &sendoka.TemplateRequest{Slug: "hello", Channel: sendoka.ChannelEmail, Subject: "Hi {{name}}", HTML: "<p>Hi</p>"})
		require.NoError(t, err)
		w := b.web(t)
		w.mustLogin(viewerEmail, viewerPW)
		for _, page := range []string{"/templates", "/templates/" + tpl.ID, "/webhooks", "/domains", "/api-keys", "/suppressions", "/users", "/audiences", "/tenants"} {
			res, body := w.get(page)
			require.Equal(t, http.StatusOK, res.StatusCode, page)
			require.NotContains(t, body, `method="post" action="`+page, "no forms that change %s", page)
			require.NotContains(t, body, ">Save<", page)
		}
		tok := w.csrf("/templates")
		posts := map[string]url.Values{
			"/templates":                       {"slug": {"x"}, "channel": {"email"}},
			"/templates/" + tpl.ID:             {"subject": {"changed"}},
			"/templates/" + tpl.ID + "/delete": {},
			"/templates/" + tpl.ID + "/test":   {"from": {"a@sandbox.sendoka.com"}, "to": {"b@example.com"}},
			"/webhooks":                        {"url": {"http://127.0.0.1:9/x"}},
			"/domains":                         {"name": {"example.org"}},
			"/api-keys":                        {"name": {"k"}, "mode": {"live"}},
			"/suppressions":                    {"address": {"a@example.com"}},
			"/suppressions/remove":             {"channel": {"email"}, "address": {"a@example.com"}},
			"/users":                           {"email": {"x@example.com"}, "role": {"owner"}},
			"/users/" + b.owner.ID + "/delete": {},
			"/tenants":                         {"name": {"T"}, "slug": {"t"}},
			"/audiences":                       {"name": {"A"}},
		}
		for path, form := range posts {
			form.Set("csrf", tok)
			res, body := w.post(path, form)
			require.Equal(t, http.StatusForbidden, res.StatusCode, "%s: %s", path, body)
		}
		got, err := b.srv.Client.GetTemplate(ctx, b.root, tpl.ID)
		require.NoError(t, err)
		require.Equal(t, "Hi {{name}}", got.Subject)
		keys, err := b.srv.Client.ListAPIKeys(ctx, b.root)
		require.NoError(t, err)
		require.Len(t, keys, 2, "only the bootstrap keys")

		res, body := w.post("/template-preview/info", url.Values{"csrf": {tok}, "channel": {"email"}, "subject": {"Hi {{name}}"}, "html": {"<p>{{plan}}</p>"}, "variables": {`{"name":"Ada"}`}})
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		require.Contains(t, body, "Hi Ada")
		require.Contains(t, body, "plan", "the missing variable is named")
	})
}

// TestLoginRateLimit: past the limit every attempt from the address, the right password
// included, is refused with 429 until the window passes.
func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	b := setup(t, bunstore.DialectSQLite, func(c *server.Config) {
		c.Dashboard = dashboard.Options{LoginAttempts: 3, LoginWindow: time.Minute, Now: clock}
	})
	w := b.web(t)
	for i := 0; i < 3; i++ {
		res, _ := w.login(ownerEmail, "wrong password")
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	}
	res, body := w.login(ownerEmail, ownerPW)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	require.Contains(t, body, "Too many sign-in attempts")
	require.Nil(t, sessionCookie(res))
	res, _ = w.login(viewerEmail, viewerPW)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "the address is limited, whatever the email")

	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	res, _ = w.login(ownerEmail, ownerPW)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "allowed once the window passed")
}

// TestSignInLink: the link sets the password once and signs in; a second use is refused.
func TestSignInLink(t *testing.T) {
	t.Parallel()
	b := setup(t, bunstore.DialectSQLite)
	ctx := context.Background()
	u, err := b.srv.Client.CreateUser(ctx, b.root, sendoka.UserRequest{Email: "new@example.com", Role: sendoka.RoleAdmin})
	require.NoError(t, err)
	token, err := b.srv.Client.CreateSignInLink(ctx, b.root, u.ID)
	require.NoError(t, err)
	w := b.web(t)
	tok := w.csrf("/signin/" + token)
	res, body := w.post("/signin/"+token, url.Values{"csrf": {tok}, "password": {"a new password"}, "confirm": {"a new password"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
	res, body = w.get("/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, "new@example.com")
	res, _ = b.web(t).get("/signin/" + token)
	require.Equal(t, http.StatusNotFound, res.StatusCode, "used once")
	other := b.web(t)
	other.mustLogin("new@example.com", "a new password")
}

// TestTenantUserScope: a tenant-bound user does not see another tenant's message; its id is
// 404 as over the API.
func TestTenantUserScope(t *testing.T) {
	t.Parallel()
	b := setup(t, bunstore.DialectSQLite)
	ctx := context.Background()
	acme, err := b.srv.Client.CreateTenant(ctx, b.root, &sendoka.TenantRequest{Name: "Acme", Slug: "acme"})
	require.NoError(t, err)
	globex, err := b.srv.Client.CreateTenant(ctx, b.root, &sendoka.TenantRequest{Name: "Globex", Slug: "globex"})
	require.NoError(t, err)
	_, err = b.srv.Client.CreateUser(ctx, b.root, sendoka.UserRequest{Email: "a@acme.test", Role: sendoka.RoleAdmin, TenantID: acme.ID, Password: "acme password"})
	require.NoError(t, err)
	gp := *b.root
	gp.TenantID = globex.ID
	m, err := b.srv.Client.SendEmail(ctx, &gp, &sendoka.EmailRequest{From: "a@" + b.srv.Client.SandboxDomain(), To: []string{"x@example.com"}, Subject: "globex secret", Text: "t"})
	require.NoError(t, err)
	owner := b.web(t)
	owner.mustLogin(ownerEmail, ownerPW)
	res, body := owner.get("/messages")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, "globex secret", "the org's owner sees every tenant")

	w := b.web(t)
	w.mustLogin("a@acme.test", "acme password")
	res, body = w.get("/messages")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotContains(t, body, "globex secret")
	res, _ = w.get("/messages/" + m.ID)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = w.get("/messages/" + m.ID + "/preview")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// TestPreviewHeaders: stored HTML is served only with the sandboxing policy: no script
// source at all, and remote images only on request.
func TestPreviewHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t, bunstore.DialectSQLite)
	ctx := context.Background()
	m, err := b.srv.Client.SendEmail(ctx, b.root, &sendoka.EmailRequest{From: "a@" + b.srv.Client.SandboxDomain(), To: []string{"x@example.com"},
		Subject: "s", HTML: `<script>alert(1)</script><img src="https://example.com/x.png">`})
	require.NoError(t, err)
	w := b.web(t)
	w.mustLogin(ownerEmail, ownerPW)
	res, body := w.get("/messages/" + m.ID + "/preview")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, "<script>", "served as stored, inside the sandbox")
	csp := res.Header.Get("Content-Security-Policy")
	require.True(t, strings.HasPrefix(csp, "sandbox;"), csp)
	require.Contains(t, csp, "default-src 'none'")
	require.NotContains(t, csp, "script-src")
	require.Contains(t, csp, "img-src data:;")
	res, _ = w.get("/messages/" + m.ID + "/preview?images=1")
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "img-src data: https: http:")
	require.NotContains(t, res.Header.Get("Content-Security-Policy"), "script-src")
	_, page := w.get("/messages/" + m.ID)
	require.Contains(t, page, `sandbox=""`)
	res, raw := w.get("/messages/" + m.ID + "/raw")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "message/rfc822", res.Header.Get("Content-Type"))
	require.Contains(t, raw, "Subject: s\r\n")
	require.Contains(t, raw, "MIME-Version: 1.0")
	require.NotContains(t, page, "<script>alert(1)", "the page itself never carries the stored HTML")
}

// TestMessagesFilters: the Messages page's filters reach the core: recipient, stream,
// channel and days.
func TestMessagesFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, bunstore.DialectSQLite)
	ctx := context.Background()
	from := "a@" + b.srv.Client.SandboxDomain()
	_, err := b.srv.Client.SendEmail(ctx, b.root, &sendoka.EmailRequest{From: from, To: []string{"ada@example.com"}, Subject: "for ada", Text: "t"})
	require.NoError(t, err)
	_, err = b.srv.Client.SendEmail(ctx, b.root, &sendoka.EmailRequest{From: from, To: []string{"bob@example.com"}, Subject: "for bob", Text: "t"})
	require.NoError(t, err)
	w := b.web(t)
	w.mustLogin(ownerEmail, ownerPW)
	page := func(q string) string {
		res, body := w.get("/messages?" + q)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		return body
	}
	body := page("recipient=ADA%40example.com")
	require.Contains(t, body, "for ada")
	require.NotContains(t, body, "for bob")
	require.NotContains(t, page("stream=broadcast"), "for ada")
	require.NotContains(t, page("channel=sms"), "for ada")
	today := time.Now().UTC().Format(time.DateOnly)
	require.Contains(t, page("from="+today+"&to="+today), "for bob")
	require.NotContains(t, page("to=2020-01-01"), "for bob")
}
