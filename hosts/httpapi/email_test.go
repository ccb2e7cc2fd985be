package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// trackingBase is where tracked links point; the tests call the paths on their own server.
const trackingBase = "https://track.example.test/mail"

// emailBundle is a bundle whose provider is memsend (so the tests read what went out) and
// whose client tracks opens and clicks.
type emailBundle struct {
	*bundle
	fake *memsend.Sender
}

func emailSetup(t *testing.T, db *bunstore.DB) *emailBundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, riverjobs.Migrate(ctx, db.SQLDB(), string(db.Dialect())))
	q, err := riverjobs.New(db.SQLDB(), string(db.Dialect()), riverjobs.Config{FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	fake := memsend.New()
	c, err := sendoka.New(sendoka.Config{Store: db, Queue: q, Email: fake, SandboxEmail: fake, SandboxSMS: fake,
		Tracking: sendoka.TrackingConfig{BaseURL: trackingBase}})
	require.NoError(t, err)
	require.NoError(t, q.Start(context.Background(), c))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, q.Stop(ctx))
	})
	boot, err := c.Bootstrap(ctx, sendoka.BootstrapOptions{})
	require.NoError(t, err)
	b := &bundle{db: db, queue: q, client: c, org: boot.Org}
	for _, k := range boot.NewKeys {
		if strings.HasPrefix(k, sendoka.KeyPrefixLive) {
			b.live = k
		} else {
			b.test = k
		}
	}
	b.handler = New(c, Options{})
	b.server = httptest.NewServer(b.handler)
	t.Cleanup(b.server.Close)
	return &emailBundle{bundle: b, fake: fake}
}

// sent waits for the message to reach the provider and returns what it got.
func (b *emailBundle) sent(t *testing.T, id string) *sendoka.OutboundEmail {
	t.Helper()
	eventually(t, 20*time.Second, func() bool { return b.fake.Count(id) > 0 }, "message "+id+" never reached the provider")
	for _, s := range b.fake.Sent() {
		if s.MessageID() == id {
			return s.Email
		}
	}
	t.Fatalf("message %s not recorded", id)
	return nil
}

func (b *emailBundle) get(t *testing.T, id string) EmailMessageDetail {
	t.Helper()
	var m EmailMessageDetail
	b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: b.test}).decode(t, http.StatusOK, &m)
	return m
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestEmailContractOverHTTP(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := emailSetup(t, db)
		off := false
		id := b.send(t, "/api/v1/emails", b.test, map[string]any{
			"from":    `"Acme Café" <Hello@Sandbox.Sendoka.com>`,
			"to":      []string{`"Ada" <ada@example.com>`, "ADA@example.com", "bob@example.com"},
			"cc":      []string{"bob@EXAMPLE.com", "carol@example.com"},
			"bcc":     []string{"carol@example.com", "dave@example.com"},
			"subject": "Grüße", "text": "Hi", "html": `<p>Hi <img src="cid:logo"></p>`,
			"headers": map[string]string{"X-Entity-Ref-ID": "42"}, "track_opens": off,
			"attachments": []map[string]string{
				{"filename": "invoice.pdf", "content": b64("%PDF-1.7 ...")},
				{"filename": "logo.png", "content": b64("\x89PNG"), "content_id": "logo"},
			},
		})
		out := b.sent(t, id)
		require.Equal(t, []string{`"Ada" <ada@example.com>`, "bob@example.com"}, out.To, "normalised, duplicates removed")
		require.Equal(t, []string{"carol@example.com"}, out.Cc)
		require.Equal(t, []string{"dave@example.com"}, out.Bcc)
		require.Equal(t, map[string]string{"X-Entity-Ref-ID": "42"}, out.Headers)
		require.Len(t, out.Attachments, 2)
		require.Equal(t, []byte("%PDF-1.7 ..."), out.Attachments[0].Content, "the provider gets the bytes")
		require.Equal(t, "logo", out.Attachments[1].ContentID)

		m := b.get(t, id)
		require.Equal(t, `"Acme Café" <Hello@sandbox.sendoka.com>`, m.From)
		require.Equal(t, []EmailAttachment{
			{Filename: "invoice.pdf", ContentType: "application/pdf", Size: 12},
			{Filename: "logo.png", ContentType: "image/png", ContentID: nullable("logo"), Size: 4},
		}, m.Attachments, "described, never with their content")
		require.Equal(t, map[string]string{"X-Entity-Ref-ID": "42"}, m.Headers)
		require.False(t, m.TrackOpens)
		require.True(t, m.TrackClicks, "default true")
	})
}

func TestEmailValidationOverHTTP(t *testing.T) {
	t.Parallel()
	b := emailSetup(t, sqlite(t))
	with := func(mod func(m map[string]any)) map[string]any {
		m := quickstart()
		mod(m)
		return m
	}
	cases := []struct {
		name   string
		body   any
		status int
		code   sendoka.Code
		path   []any
	}{
		{"bad base64", with(func(m map[string]any) {
			m["attachments"] = []map[string]string{{"filename": "a.txt", "content": "not base64!"}}
		}), 422, sendoka.CodeValidation, []any{"attachments", 0, "content"}},
		{"executable", with(func(m map[string]any) {
			m["attachments"] = []map[string]string{{"filename": "setup.exe", "content": b64("MZ")}}
		}), 422, sendoka.CodeValidation, []any{"attachments", 0, "filename"}},
		{"too large", with(func(m map[string]any) {
			big := base64.StdEncoding.EncodeToString(make([]byte, 4<<20))
			m["attachments"] = []map[string]string{{"filename": "a.bin", "content": big}, {"filename": "b.bin", "content": big}}
		}), 413, sendoka.CodeAttachmentTooLarge, []any{"attachments"}},
		{"bad address keeps its index", with(func(m map[string]any) {
			m["to"] = []string{"a@example.com", "b@example.com", "c@example.com", "nope"}
		}), 422, sendoka.CodeValidation, []any{"to", 3}},
		{"subject with CRLF", with(func(m map[string]any) { m["subject"] = "Hi\r\nBcc: x@evil.test" }), 422, sendoka.CodeValidation, []any{"subject"}},
		{"reserved header", with(func(m map[string]any) { m["headers"] = map[string]string{"Bcc": "x@evil.test"} }), 422, sendoka.CodeValidation, []any{"headers", "Bcc"}},
		{"subject with NEL", with(func(m map[string]any) { m["subject"] = "Hi\u0085Bcc: x@evil.test" }), 422, sendoka.CodeValidation, []any{"subject"}},
		{"subject with a C1 control", with(func(m map[string]any) { m["subject"] = "Hi\u009b" }), 422, sendoka.CodeValidation, []any{"subject"}},
		{"subject with LINE SEPARATOR", with(func(m map[string]any) { m["subject"] = "Hi\u2028Bcc: x@evil.test" }), 422, sendoka.CodeValidation, []any{"subject"}},
		{"subject with PARAGRAPH SEPARATOR", with(func(m map[string]any) { m["subject"] = "Hi\u2029" }), 422, sendoka.CodeValidation, []any{"subject"}},
		{"display name with NEL", with(func(m map[string]any) { m["to"] = []string{"\"Eve\u0085\" <eve@example.com>"} }), 422, sendoka.CodeValidation, []any{"to", 0}},
		{"header value with LINE SEPARATOR", with(func(m map[string]any) { m["headers"] = map[string]string{"X-Campaign": "a\u2028b"} }), 422, sendoka.CodeValidation, []any{"headers", "X-Campaign"}},
		{"filename with NEL", with(func(m map[string]any) {
			m["attachments"] = []map[string]string{{"filename": "a\u0085b.txt", "content": b64("x")}}
		}), 422, sendoka.CodeValidation, []any{"attachments", 0, "filename"}},
		{"Resent-From header", with(func(m map[string]any) { m["headers"] = map[string]string{"Resent-From": "x@evil.test"} }), 422, sendoka.CodeValidation, []any{"headers", "Resent-From"}},
		{"Resent-To header", with(func(m map[string]any) { m["headers"] = map[string]string{"resent-to": "x@evil.test"} }), 422, sendoka.CodeValidation, []any{"headers", "resent-to"}},
		{"Errors-To header", with(func(m map[string]any) { m["headers"] = map[string]string{"Errors-To": "x@evil.test"} }), 422, sendoka.CodeValidation, []any{"headers", "Errors-To"}},
		{"Disposition-Notification-To header", with(func(m map[string]any) {
			m["headers"] = map[string]string{"Disposition-Notification-To": "x@evil.test"}
		}), 422, sendoka.CodeValidation, []any{"headers", "Disposition-Notification-To"}},
		{"Return-Receipt-To header", with(func(m map[string]any) { m["headers"] = map[string]string{"Return-Receipt-To": "x@evil.test"} }), 422, sendoka.CodeValidation, []any{"headers", "Return-Receipt-To"}},
		{"unknown field", with(func(m map[string]any) { m["priority"] = "high" }), 422, sendoka.CodeValidation, nil},
		{"unknown attachment field", with(func(m map[string]any) {
			m["attachments"] = []map[string]string{{"filename": "a.txt", "content": b64("x"), "path": "/etc/passwd"}}
		}), 422, sendoka.CodeValidation, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.test, body: tc.body}).requireError(t, tc.status, tc.code)
			if tc.path != nil {
				require.True(t, hasField(e, e.Errors[0].Code, tc.path...), "errors: %+v", e.Errors)
			}
		})
	}
}

func TestLargestEmailFitsTheBodyLimit(t *testing.T) {
	t.Parallel()
	b := emailSetup(t, sqlite(t))
	attachment := base64.StdEncoding.EncodeToString(make([]byte, sendoka.MaxAttachmentsSize))
	body := quickstart()
	body["html"] = "<p>" + strings.Repeat("x", sendoka.MaxHTMLBytes-8) + "</p>"
	body["text"] = strings.Repeat("y", sendoka.MaxTextBytes)
	body["attachments"] = []map[string]string{{"filename": "big.bin", "content": attachment}}
	id := b.send(t, "/api/v1/emails", b.test, body)
	require.Equal(t, sendoka.MaxAttachmentsSize, len(b.sent(t, id).Attachments[0].Content))
}

var (
	clickURL = regexp.MustCompile(regexp.QuoteMeta(trackingBase) + `/t/c/([A-Za-z0-9_-]+)`)
	openURL  = regexp.MustCompile(regexp.QuoteMeta(trackingBase) + `/t/o/([A-Za-z0-9_-]+)`)
)

func TestTrackingOverHTTP(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := emailSetup(t, db)
		body := quickstart()
		body["html"] = `<html><body><p><a href="https://example.com/docs?a=1&amp;b=2">Docs</a> <a href="mailto:x@example.com">mail</a></p></body></html>`
		id := b.send(t, "/api/v1/emails", b.test, body)
		html := b.sent(t, id).HTML
		clicks := clickURL.FindAllStringSubmatch(html, -1)
		require.Len(t, clicks, 1, "one http(s) link rewritten, mailto kept: %s", html)
		require.Contains(t, html, `href="mailto:x@example.com"`)
		opens := openURL.FindAllStringSubmatch(html, -1)
		require.Len(t, opens, 1, "one pixel: %s", html)
		open, click := opens[0][1], clicks[0][1]

		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		get := func(path string) *http.Response {
			hr, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.server.URL+path, nil)
			require.NoError(t, err)
			hr.Header.Set("User-Agent", "TestMail/1.0")
			res, err := noRedirect.Do(hr)
			require.NoError(t, err)
			t.Cleanup(func() { res.Body.Close() })
			return res
		}
		res := get("/t/o/" + open)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "image/gif", res.Header.Get("Content-Type"))
		require.Contains(t, res.Header.Get("Cache-Control"), "no-store")

		res = get("/t/c/" + click)
		require.Equal(t, http.StatusFound, res.StatusCode)
		require.Equal(t, "https://example.com/docs?a=1&b=2", res.Header.Get("Location"), "the URL stored at send time")
		require.Equal(t, "no-referrer", res.Header.Get("Referrer-Policy"))

		// Tampered, swapped and unknown tokens are 404, with the envelope.
		tampered := click[:len(click)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(click, "AA")]
		for _, path := range []string{"/t/c/" + tampered, "/t/c/" + open, "/t/o/" + click, "/t/o/x", "/t/c/" + strings.Repeat("A", 500)} {
			r := b.do(t, req{method: http.MethodGet, path: path})
			r.requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		}

		m := b.get(t, id)
		var kinds []string
		for _, ev := range m.Events {
			kinds = append(kinds, ev.Type)
			switch ev.Type {
			case string(sendoka.EventOpened):
				require.Nil(t, ev.Status)
				require.Equal(t, "TestMail/1.0", ev.Data["user_agent"])
			case string(sendoka.EventClicked):
				require.Equal(t, "https://example.com/docs?a=1&b=2", ev.Data["url"])
			}
		}
		require.Contains(t, kinds, string(sendoka.EventOpened))
		require.Contains(t, kinds, string(sendoka.EventClicked))

		// Tracking off: the HTML goes out as written.
		off := false
		body["track_opens"], body["track_clicks"] = off, off
		id = b.send(t, "/api/v1/emails", b.test, body)
		require.Equal(t, body["html"], b.sent(t, id).HTML)
	})
}
