package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/providers/sandbox"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/sendoka/sendokatest"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// bundle is one complete Sendoka behind a real HTTP server: database, River queue, core
// client with the sandbox provider, and an org with a live and a test key.
type bundle struct {
	db      *bunstore.DB
	queue   *riverjobs.Queue
	client  *sendoka.Client
	handler http.Handler
	server  *httptest.Server
	org     *sendoka.Org
	live    string // plaintext sok_live_ key, full access
	test    string // plaintext sok_test_ key, full access
	// dns is the zone domains are verified against.
	dns *sendokatest.DNS
}

// testInboundDomain is the inbound domain of every test server: routes may use it.
const testInboundDomain = "in.example.com"

type setupConfig struct {
	// workers starts River, so messages get delivered.
	workers bool
	opts    Options
	// extra adds routes to the API and mux (see newHandler).
	extra func(api huma.API, mux *http.ServeMux)
	// email is the live email provider; nil: the sandbox.
	email sendoka.EmailSender
	// fake, when set, stands in for the sandbox (test keys, the sandbox domain), so sends
	// can be counted.
	fake *memsend.Sender
	// clock is the core's clock; nil: the system's.
	clock sendoka.Clock
	// webhooks tunes outgoing webhooks.
	webhooks sendoka.WebhookConfig
	// tracking is the public URL and secret of tracking and unsubscribe links.
	tracking sendoka.TrackingConfig
}

// setup builds a bundle on db. The queue runs only with cfg.workers; everything is closed
// at cleanup.
func setup(t testing.TB, db *bunstore.DB, cfg setupConfig) *bundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, riverjobs.Migrate(ctx, db.SQLDB(), string(db.Dialect())))
	q, err := riverjobs.New(db.SQLDB(), string(db.Dialect()), riverjobs.Config{FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	var sbEmail sendoka.EmailSender
	var sbSMS sendoka.SMSSender
	if cfg.fake != nil {
		sbEmail, sbSMS = cfg.fake, cfg.fake
	} else {
		sb := sandbox.New(sandbox.Options{})
		sbEmail, sbSMS = sb, sb
	}
	dns := sendokatest.NewDNS()
	c, err := sendoka.New(sendoka.Config{Store: db, Queue: q, SandboxEmail: sbEmail, SandboxSMS: sbSMS, Email: cfg.email, DNS: dns, Clock: cfg.clock, Webhooks: cfg.webhooks, Tracking: cfg.tracking,
		Inbound: sendoka.InboundConfig{Domains: []string{testInboundDomain}}})
	require.NoError(t, err)
	if cfg.workers {
		// River runs until the Start context ends: it must outlive setup.
		require.NoError(t, q.Start(context.Background(), c))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(t, q.Stop(ctx))
		})
	}
	boot, err := c.Bootstrap(ctx, sendoka.BootstrapOptions{})
	require.NoError(t, err)
	require.Len(t, boot.NewKeys, 2)

	b := &bundle{db: db, queue: q, client: c, org: boot.Org, dns: dns}
	// SMS senders must be registered: a US number for most tests, a UK sender ID too.
	admin := sendoka.SystemPrincipal(boot.Org.ID, sendoka.ModeLive)
	for _, pn := range []*sendoka.PhoneNumberRequest{
		{Kind: sendoka.SenderLongCode, PhoneNumber: "+15551234567", ISOCountry: "US"},
		{Kind: sendoka.SenderAlphanumeric, SenderID: "Acme", ISOCountry: "GB"},
	} {
		_, err := c.CreatePhoneNumber(ctx, admin, pn)
		require.NoError(t, err)
	}
	for _, k := range boot.NewKeys {
		if strings.HasPrefix(k, sendoka.KeyPrefixLive) {
			b.live = k
		} else {
			b.test = k
		}
	}
	if cfg.opts.DatabaseTimeout == 0 {
		// These tests are about the API's semantics; the database deadline has its own. Under
		// the race detector SQLite's one connection, shared with 100 River workers delivering
		// a batch, can take longer than the production budget to come round to a request.
		cfg.opts.DatabaseTimeout = time.Minute
	}
	b.handler = newHandler(c, cfg.opts, cfg.extra)
	b.server = httptest.NewServer(b.handler)
	t.Cleanup(b.server.Close)
	return b
}

// sqlite is a fresh SQLite database, for tests whose subject is the HTTP layer alone.
func sqlite(t testing.TB) *bunstore.DB {
	return bunstoretest.Open(t, bunstore.DialectSQLite)
}

// key creates an extra key on the bundle's org.
func (b *bundle) key(t testing.TB, p sendoka.CreateKeyParams) (*sendoka.APIKey, string) {
	t.Helper()
	return b.orgKey(t, b.org.ID, p)
}

// orgKey creates a key on an org.
func (b *bundle) orgKey(t testing.TB, orgID string, p sendoka.CreateKeyParams) (*sendoka.APIKey, string) {
	t.Helper()
	if p.Mode == "" {
		p.Mode = sendoka.ModeLive
	}
	k, plain, err := b.client.CreateAPIKey(context.Background(), sendoka.SystemPrincipal(orgID, p.Mode), p)
	require.NoError(t, err)
	return k, plain
}

// otherOrg stores a second org and returns it with a full-access live key of its own.
func (b *bundle) otherOrg(t testing.TB, name string) (*sendoka.Org, string) {
	t.Helper()
	now := time.Now().UTC()
	org := &sendoka.Org{ID: sendoka.NewID(sendoka.PrefixOrg, now), Name: name, Plan: "free", CreatedAt: now}
	require.NoError(t, b.db.InTx(context.Background(), func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertOrg(ctx, org) }))
	_, key := b.orgKey(t, org.ID, sendoka.CreateKeyParams{})
	return org, key
}

// expiredKey stores a live key of the bundle's org that expired an hour ago (the API cannot
// create one: a new key's expiry must be in the future) and returns its plaintext.
func (b *bundle) expiredKey(t testing.TB) string {
	t.Helper()
	plain := sendoka.NewKeyPlaintext(sendoka.ModeLive)
	now := time.Now().UTC().Truncate(time.Microsecond)
	past := now.Add(-time.Hour)
	key := &sendoka.APIKey{ID: sendoka.NewID(sendoka.PrefixAPIKey, now), OrgID: b.org.ID, Name: "expired",
		Prefix: plain[:13], Hash: sendoka.HashKey(plain), Mode: sendoka.ModeLive,
		Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: &past}
	require.NoError(t, b.db.InTx(context.Background(), func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAPIKey(ctx, key) }))
	return plain
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// req is a request to send: body is sent as is when it is a string or []byte, and as JSON
// otherwise.
type req struct {
	method, path, key string
	body              any
	header            map[string]string
}

func (b *bundle) do(t testing.TB, r req) *response {
	t.Helper()
	return doURL(t, b.server.URL, r)
}

func doURL(t testing.TB, base string, r req) *response {
	t.Helper()
	var body io.Reader
	switch v := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(v)
	case []byte:
		body = bytes.NewReader(v)
	default:
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		body = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, r.method, base+r.path, body)
	require.NoError(t, err)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.key != "" {
		hr.Header.Set("Authorization", "Bearer "+r.key)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(hr)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return &response{status: res.StatusCode, header: res.Header, body: raw}
}

// decode requires status and decodes the body into v.
func (r *response) decode(t testing.TB, status int, v any) {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

var (
	requestIDPattern = regexp.MustCompile(`^req_[0-9A-HJKMNP-TV-Z]{26}$`)
	timePattern      = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
)

// requireRequestID checks the X-Request-Id every response carries, and returns it.
func (r *response) requireRequestID(t testing.TB) string {
	t.Helper()
	id := r.header.Get("X-Request-Id")
	require.Regexp(t, requestIDPattern, id)
	return id
}

// requireError checks that r is the docs' envelope with that status and code, with exactly
// the documented keys and request_id equal to X-Request-Id, and returns it.
func (r *response) requireError(t testing.TB, status int, code sendoka.Code) ErrorObject {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	requireEnvelope(t, r.body)
	var env ErrorResponse
	require.NoError(t, json.Unmarshal(r.body, &env))
	require.Equal(t, string(code), env.Error.Code, "body: %s", r.body)
	wantStatus, wantType := ErrorStatus(code)
	require.Equal(t, wantStatus, status)
	require.Equal(t, wantType, env.Error.Type)
	require.Equal(t, r.requireRequestID(t), env.Error.RequestID)
	require.NotEmpty(t, env.Error.Message)
	return env.Error
}

// requireEnvelope checks the shape of an error body: {"error":{type, code, message,
// request_id, errors[]}} and nothing else.
func requireEnvelope(t testing.TB, body []byte) {
	t.Helper()
	var outer map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &outer), "body: %s", body)
	require.Equal(t, []string{"error"}, slices.Sorted(maps.Keys(outer)), "body: %s", body)
	var inner map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(outer["error"], &inner))
	require.Equal(t, []string{"code", "errors", "message", "request_id", "type"}, slices.Sorted(maps.Keys(inner)), "body: %s", body)
	var fields []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(inner["errors"], &fields), "errors must be an array: %s", body)
	require.NotNil(t, fields, "errors must be [], not null: %s", body)
	for _, f := range fields {
		require.Equal(t, []string{"code", "message", "path"}, slices.Sorted(maps.Keys(f)), "body: %s", body)
		var path []any
		require.NoError(t, json.Unmarshal(f["path"], &path))
		require.NotNil(t, path, "path must be an array: %s", body)
	}
}

// hasField reports whether the error lists a problem at path with code.
func hasField(e ErrorObject, code string, path ...any) bool {
	if path == nil {
		path = []any{}
	}
	want, _ := json.Marshal(path)
	for _, f := range e.Errors {
		got, _ := json.Marshal(f.Path)
		if string(got) == string(want) && f.Code == code {
			return true
		}
	}
	return false
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, msg)
		}
		<-tick.C
	}
}

// quickstart is the docs' first email.
func quickstart() map[string]any {
	return map[string]any{
		"from":    "you@sandbox.sendoka.com",
		"to":      []string{"user@example.com"},
		"subject": "Hello from Sendoka",
		"html":    "<p>It works.</p>",
	}
}

func smsBody() map[string]any {
	return map[string]any{"from": "+15551234567", "to": "+15559876543", "body": "Your code is 1234"}
}

// send posts a message and returns its id.
func (b *bundle) send(t testing.TB, path, key string, body any) string {
	t.Helper()
	var sent SendResponse
	b.do(t, req{method: http.MethodPost, path: path, key: key, body: body}).decode(t, http.StatusOK, &sent)
	require.True(t, strings.HasPrefix(sent.ID, "msg_"), sent.ID)
	return sent.ID
}

// newTestServer serves h over real HTTP until the test ends, and returns its URL.
func newTestServer(t testing.TB, h http.Handler) string {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}
