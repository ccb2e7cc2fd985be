package dashboard_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/sendoka/sendokatest"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

const (
	ownerEmail  = "owner@example.com"
	ownerPW     = "owner password one"
	viewerEmail = "viewer@example.com"
	viewerPW    = "viewer password one"
)

var pgSlots = make(chan struct{}, 3)

// bundle is a whole server (API, dashboard, River workers, sandbox providers) on a real
// database, served by httptest, with an owner and a viewer who have passwords.
type bundle struct {
	srv    *server.Server
	ts     *httptest.Server
	base   string
	orgID  string
	owner  *sendoka.User
	viewer *sendoka.User
	root   *sendoka.Principal // the org's full-access live principal
	dns    *sendokatest.DNS   // the zone domains are verified against
}

// eachDB runs fn on SQLite, and on Postgres when SENDOKA_TEST_DATABASE_URL is set.
func eachDB(t *testing.T, fn func(t *testing.T, d bunstore.Dialect)) {
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

func setup(t *testing.T, d bunstore.Dialect, tune ...func(*server.Config)) *bundle {
	t.Helper()
	if d == bunstore.DialectPostgres {
		// Every test here runs a whole server; on Postgres only a few at once, so the package
		// stays well within the server's connections beside the other packages' tests.
		pgSlots <- struct{}{}
		t.Cleanup(func() { <-pgSlots }) // runs last: after the server closed
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := server.Config{
		DatabaseURL: bunstoretest.DSN(t, d),
		Database:    bunstore.Options{MaxOpenConns: 4}, // many servers run at once; the tests share one Postgres
		Queue:       riverjobs.Config{FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond},
	}
	dns := sendokatest.NewDNS()
	cfg.DNS = dns
	cfg.Webhooks.AllowInsecure = true // the tests' receivers are on loopback
	cfg.Webhooks.RetryDelays = []time.Duration{50 * time.Millisecond}
	for _, f := range tune {
		f(&cfg)
	}
	srv, err := server.Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, srv.Close(ctx))
	})
	require.NoError(t, srv.Start(context.Background()))
	boot, err := srv.Client.Bootstrap(ctx, sendoka.BootstrapOptions{})
	require.NoError(t, err)
	b := &bundle{srv: srv, dns: dns, orgID: boot.Org.ID, root: sendoka.SystemPrincipal(boot.Org.ID, sendoka.ModeLive)}
	b.owner, err = srv.Client.CreateUser(ctx, b.root, sendoka.UserRequest{Email: ownerEmail, Role: sendoka.RoleOwner, Password: ownerPW})
	require.NoError(t, err)
	b.viewer, err = srv.Client.CreateUser(ctx, b.root, sendoka.UserRequest{Email: viewerEmail, Role: sendoka.RoleViewer, Password: viewerPW})
	require.NoError(t, err)
	b.ts = httptest.NewServer(srv.Handler)
	t.Cleanup(b.ts.Close)
	b.base = b.ts.URL
	return b
}

// web is a cookie-keeping HTTP client that does not follow redirects.
type web struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (b *bundle) web(t *testing.T) *web {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &web{t: t, base: b.base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (w *web) do(req *http.Request) (*http.Response, string) {
	w.t.Helper()
	res, err := w.c.Do(req)
	require.NoError(w.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(w.t, err)
	return res, string(body)
}

func (w *web) get(path string) (*http.Response, string) {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.base+path, nil)
	require.NoError(w.t, err)
	return w.do(req)
}

func (w *web) post(path string, form url.Values) (*http.Response, string) {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.base+path, strings.NewReader(form.Encode()))
	require.NoError(w.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return w.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the token of the forms on a page.
func (w *web) csrf(path string) string {
	w.t.Helper()
	res, body := w.get(path)
	require.Equal(w.t, http.StatusOK, res.StatusCode, body)
	m := csrfRE.FindStringSubmatch(body)
	require.NotNil(w.t, m, "no CSRF token on %s", path)
	return m[1]
}

// login signs in and returns the status and body of the answer.
func (w *web) login(email, password string) (*http.Response, string) {
	w.t.Helper()
	tok := w.csrf("/login")
	return w.post("/login", url.Values{"csrf": {tok}, "email": {email}, "password": {password}})
}

func (w *web) mustLogin(email, password string) {
	w.t.Helper()
	res, body := w.login(email, password)
	require.Equal(w.t, http.StatusSeeOther, res.StatusCode, body)
}

// pollUntil calls fn until it returns true or the deadline passes.
func pollUntil(t *testing.T, d time.Duration, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
