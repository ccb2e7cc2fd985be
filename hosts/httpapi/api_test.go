package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

const deliveryDeadline = 20 * time.Second

// TestQuickstart is the docs' quickstart over HTTP: send from the sandbox domain, then
// poll until the message is delivered.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{workers: true})

		bounce := quickstart()
		bounce["to"] = []string{"bounced@sandbox.sendoka.com"}
		bounceID := b.send(t, "/api/v1/emails", b.live, bounce)

		res := b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.live, body: quickstart()})
		var sent map[string]any
		res.decode(t, http.StatusOK, &sent)
		res.requireRequestID(t)
		require.Equal(t, []string{"channel", "created_at", "id", "status"}, slices.Sorted(maps.Keys(sent)))
		id := sent["id"].(string)
		require.True(t, strings.HasPrefix(id, "msg_"), id)
		require.Equal(t, "email", sent["channel"])
		require.Equal(t, "queued", sent["status"])
		require.Regexp(t, timePattern, sent["created_at"])

		var got EmailMessageDetail
		eventually(t, deliveryDeadline, func() bool {
			b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: b.live}).decode(t, http.StatusOK, &got)
			return got.Status == "delivered"
		}, "the quickstart email is delivered")

		require.Equal(t, id, got.ID)
		require.Equal(t, "email", got.Channel)
		require.Equal(t, "live", got.Mode)
		require.Equal(t, "you@sandbox.sendoka.com", got.From)
		require.Equal(t, []string{"user@example.com"}, got.To)
		require.Equal(t, "Hello from Sendoka", got.Subject)
		require.Equal(t, "<p>It works.</p>", *got.HTML)
		require.Nil(t, got.Text)
		require.NotNil(t, got.Provider)
		require.NotNil(t, got.ProviderMessageID)
		require.Nil(t, got.Diagnostic)
		require.GreaterOrEqual(t, got.Attempts, 1)
		require.Regexp(t, timePattern, *got.SentAt)
		require.Regexp(t, timePattern, *got.CompletedAt)
		require.Nil(t, got.ScheduledAt)
		var types []string
		for _, e := range got.Events {
			types = append(types, e.Type)
			require.True(t, strings.HasPrefix(e.ID, "evt_"), e.ID)
			require.Regexp(t, timePattern, e.CreatedAt)
		}
		require.Equal(t, []string{"message.queued", "message.sent", "message.delivered"}, types)

		// The raw object has every documented key, null included.
		var raw map[string]json.RawMessage
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: b.live}).decode(t, http.StatusOK, &raw)
		require.Equal(t, []string{
			"attachments", "attempts", "bcc", "cc", "channel", "completed_at", "content_purged", "created_at", "delivery_attempts",
			"diagnostic", "events", "from", "headers", "html", "id", "metadata", "mode", "next_retry_at", "outcome",
			"provider", "provider_message_id", "recipients", "reply_to", "scheduled_at", "sent_at", "status", "stream", "subject", "tags",
			"text", "to", "track_clicks", "track_opens", "updated_at",
		}, slices.Sorted(maps.Keys(raw)))
		require.JSONEq(t, `"transactional"`, string(raw["stream"]))
		require.JSONEq(t, "null", string(raw["outcome"]))
		require.JSONEq(t, "null", string(raw["next_retry_at"]))
		require.JSONEq(t, "null", string(raw["text"]))
		require.JSONEq(t, "[]", string(raw["cc"]))
		require.JSONEq(t, "{}", string(raw["metadata"]))
		require.JSONEq(t, "[]", string(raw["attachments"]))
		require.JSONEq(t, "{}", string(raw["headers"]))

		// A bounce shows the provider's diagnostic, on the message and on its event.
		var bounced EmailMessageDetail
		eventually(t, deliveryDeadline, func() bool {
			b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + bounceID, key: b.live}).decode(t, http.StatusOK, &bounced)
			return bounced.Status == "bounced"
		}, "the email to bounced@ bounces")
		require.NotNil(t, bounced.Diagnostic)
		require.NotEmpty(t, bounced.Diagnostic.Provider)
		require.NotEmpty(t, bounced.Diagnostic.Code)
		require.NotEmpty(t, bounced.Diagnostic.Message)
		last := bounced.Events[len(bounced.Events)-1]
		require.Equal(t, "message.bounced", last.Type)
		require.Equal(t, "bounced", *last.Status)
		require.Equal(t, "bounced@sandbox.sendoka.com", *last.Recipient)
		require.NotNil(t, last.Diagnostic)
	})
}

func TestSMS(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{workers: true})
		body := smsBody()
		body["tags"] = []string{"otp"}
		body["metadata"] = map[string]any{"user": "u_1", "attempt": 2, "new": true}
		var sent SendResponse
		b.do(t, req{method: http.MethodPost, path: "/api/v1/sms", key: b.test, body: body}).decode(t, http.StatusOK, &sent)
		require.Equal(t, "sms", sent.Channel)
		require.Regexp(t, timePattern, sent.CreatedAt)

		var got SMSMessageDetail
		eventually(t, deliveryDeadline, func() bool {
			b.do(t, req{method: http.MethodGet, path: "/api/v1/sms/" + sent.ID, key: b.test}).decode(t, http.StatusOK, &got)
			return got.Status == "delivered"
		}, "the SMS is delivered")
		require.Equal(t, "sms", got.Channel)
		require.Equal(t, "test", got.Mode)
		require.Equal(t, "+15551234567", got.From)
		require.Equal(t, "+15559876543", got.To)
		require.Equal(t, "Your code is 1234", got.Body)
		require.Equal(t, []string{}, got.MediaURL)
		require.Equal(t, []string{"otp"}, got.Tags)
		require.Equal(t, map[string]any{"user": "u_1", "attempt": float64(2), "new": true}, got.Metadata)
		require.NotEmpty(t, got.Events)
		require.Equal(t, "message.queued", got.Events[0].Type)
		require.Equal(t, "queued", *got.Events[0].Status)

		// An SMS id is not an email.
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + sent.ID, key: b.test}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
	})
}

// TestAuth is the authentication and scope matrix.
func TestAuth(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		ctx := context.Background()
		revokedKey, revoked := b.key(t, sendoka.CreateKeyParams{Name: "revoked"})
		require.NoError(t, b.client.RevokeAPIKey(ctx, sendoka.SystemPrincipal(b.org.ID, sendoka.ModeLive), revokedKey.ID))
		expired := b.expiredKey(t)
		_, smsOnly := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionSMSSend}})
		_, emailsRead := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionEmailsRead}})
		_, emailsSend := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionEmailsSend}})
		_, officeOnly := b.key(t, sendoka.CreateKeyParams{AllowedCIDRs: []string{"10.0.0.0/8"}})
		emailID := b.send(t, "/api/v1/emails", b.live, quickstart())
		unknown := sendoka.KeyPrefixLive + strings.Repeat("A", 32)

		postEmail := func(auth string) req {
			return req{method: http.MethodPost, path: "/api/v1/emails", body: quickstart(), header: map[string]string{"Authorization": auth}}
		}
		getEmail := func(auth string) req {
			return req{method: http.MethodGet, path: "/api/v1/emails/" + emailID, header: map[string]string{"Authorization": auth}}
		}
		for _, tc := range []struct {
			name   string
			req    req
			status int
			code   sendoka.Code
		}{
			{"missing header", req{method: http.MethodPost, path: "/api/v1/emails", body: quickstart()}, 401, sendoka.CodeUnauthorized},
			{"not bearer", postEmail("Basic " + b.live), 401, sendoka.CodeUnauthorized},
			{"bearer without key", postEmail("Bearer "), 401, sendoka.CodeUnauthorized},
			{"malformed key", postEmail("Bearer sok_live_short"), 401, sendoka.CodeUnauthorized},
			{"not a sendoka key", postEmail("Bearer abc.def.ghi"), 401, sendoka.CodeUnauthorized},
			{"unknown key", postEmail("Bearer " + unknown), 401, sendoka.CodeUnauthorized},
			{"revoked key", postEmail("Bearer " + revoked), 401, sendoka.CodeUnauthorized},
			{"expired key", postEmail("Bearer " + expired), 401, sendoka.CodeUnauthorized},
			{"unauthenticated GET", getEmail(""), 401, sendoka.CodeUnauthorized},
			{"revoked key GET", getEmail("Bearer " + revoked), 401, sendoka.CodeUnauthorized},
			{"sms-only key sends email", postEmail("Bearer " + smsOnly), 403, sendoka.CodeInsufficientScope},
			{"sms-only key reads email", getEmail("Bearer " + smsOnly), 403, sendoka.CodeInsufficientScope},
			{"read-only key sends email", postEmail("Bearer " + emailsRead), 403, sendoka.CodeInsufficientScope},
			{"caller outside allowed_cidrs", postEmail("Bearer " + officeOnly), 403, sendoka.CodeIPNotAllowed},
		} {
			res := b.do(t, tc.req)
			e := res.requireError(t, tc.status, tc.code)
			if tc.status == http.StatusUnauthorized {
				require.Equal(t, `Bearer realm="sendoka"`, res.header.Get("WWW-Authenticate"), tc.name)
			}
			require.NotContains(t, e.Message, "revoked", tc.name)
			require.NotContains(t, e.Message, "expired", tc.name)
		}

		// Unknown, revoked and expired keys are indistinguishable.
		msgs := map[string]bool{}
		for _, k := range []string{unknown, revoked, expired} {
			msgs[b.do(t, postEmail("Bearer "+k)).requireError(t, 401, sendoka.CodeUnauthorized).Message] = true
		}
		require.Len(t, msgs, 1)

		// Keys that may: each scope, the scheme in any case, both modes.
		for _, tc := range []struct {
			name, auth, mode string
		}{
			{"live key", "Bearer " + b.live, "live"},
			{"test key", "Bearer " + b.test, "test"},
			{"emails:send key", "Bearer " + emailsSend, "live"},
			{"lower-case scheme", "bearer " + b.live, "live"},
		} {
			var sent SendResponse
			b.do(t, postEmail(tc.auth)).decode(t, http.StatusOK, &sent)
			var got EmailMessageDetail
			b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + sent.ID, header: map[string]string{"Authorization": tc.auth}}).
				decode(t, http.StatusOK, &got)
			require.Equal(t, tc.mode, got.Mode, tc.name)
		}
		var one EmailMessageDetail
		b.do(t, getEmail("Bearer "+emailsRead)).decode(t, http.StatusOK, &one)
		require.Equal(t, emailID, one.ID)
	})
}

// TestAuthorizationBound: an Authorization header over MaxAuthorizationBytes is 401 in the
// envelope before it is parsed or looked up, whatever the route; a header block over the
// server's MaxHeaderBytes is net/http's own 431.
func TestAuthorizationBound(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	// net/http trims surrounding blanks of a header value, so the padding is inside the token.
	pad := func(n int) string { return "Bearer " + b.live + strings.Repeat("x", n-len("Bearer ")-len(b.live)) }
	for _, route := range []struct{ method, path string }{
		{http.MethodPost, "/api/v1/emails"}, {http.MethodGet, "/api/v1/emails"}, {http.MethodGet, "/api/v1/templates"},
	} {
		var body any
		if route.method == http.MethodPost {
			body = quickstart()
		}
		at := func(auth string) *response {
			return b.do(t, req{method: route.method, path: route.path, body: body, header: map[string]string{"Authorization": auth}})
		}
		// At the bound the key is parsed, and refused as any malformed key is.
		e := at(pad(MaxAuthorizationBytes)).requireError(t, http.StatusUnauthorized, sendoka.CodeUnauthorized)
		require.Equal(t, "invalid API key", e.Message, route.path)
		for _, n := range []int{MaxAuthorizationBytes + 1, 64 << 10, 900 << 10} {
			res := at(pad(n))
			e := res.requireError(t, http.StatusUnauthorized, sendoka.CodeUnauthorized)
			require.Contains(t, e.Message, "longer than 4096 bytes", "%s %d", route.path, n)
			require.Equal(t, `Bearer realm="sendoka"`, res.header.Get("WWW-Authenticate"))
		}
		// Over net/http's header limit (1 MiB by default) the server answers before any handler.
		res := at("Bearer " + strings.Repeat("A", http.DefaultMaxHeaderBytes+8<<10))
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, res.status, route.path)
	}
}

// TestClientIP checks which address allowed_cidrs sees, with and without trusting the proxy.
func TestClientIP(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	_, office := b.key(t, sendoka.CreateKeyParams{AllowedCIDRs: []string{"10.0.0.0/8"}})
	_, local := b.key(t, sendoka.CreateKeyParams{AllowedCIDRs: []string{"127.0.0.0/8", "::1/128"}})
	post := func(base, key, xff string) *response {
		r := req{method: http.MethodPost, path: "/api/v1/emails", key: key, body: quickstart()}
		if xff != "" {
			r.header = map[string]string{"X-Forwarded-For": xff}
		}
		return doURL(t, base, r)
	}

	// By default the TCP peer (loopback here) is the caller, whatever the headers say.
	post(b.server.URL, office, "10.1.2.3").requireError(t, http.StatusForbidden, sendoka.CodeIPNotAllowed)
	require.Equal(t, http.StatusOK, post(b.server.URL, local, "10.1.2.3").status)

	// Behind a trusted proxy the caller is the address the proxy appended: the last one.
	proxied := newTestServer(t, New(b.client, Options{TrustProxyHeaders: true}))
	require.Equal(t, http.StatusOK, post(proxied, office, "203.0.113.9, 10.1.2.3").status)
	post(proxied, office, "10.1.2.3, 203.0.113.9").requireError(t, http.StatusForbidden, sendoka.CodeIPNotAllowed)
	post(proxied, local, "203.0.113.9").requireError(t, http.StatusForbidden, sendoka.CodeIPNotAllowed)
	// Without the header the peer address still counts.
	require.Equal(t, http.StatusOK, post(proxied, local, "").status)
	post(proxied, office, "not-an-ip").requireError(t, http.StatusForbidden, sendoka.CodeIPNotAllowed)

	// Named proxies (SENDOKA_TRUSTED_PROXIES): the test's peer, loopback, and a second hop.
	named := newTestServer(t, New(b.client, Options{TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("198.51.100.0/24"),
	}}))
	require.Equal(t, http.StatusOK, post(named, office, "10.1.2.3").status)
	require.Equal(t, http.StatusOK, post(named, office, "10.1.2.3, 198.51.100.7").status, "a trusted hop is skipped")
	post(named, office, "10.9.9.9, 203.0.113.9").requireError(t, http.StatusForbidden, sendoka.CodeIPNotAllowed) // the forged left entry is not believed
	post(named, office, "10.1.2.3, junk").requireError(t, http.StatusForbidden, sendoka.CodeIPNotAllowed)
	require.Equal(t, http.StatusOK, post(named, local, "").status, "no header: the peer is the caller")
	// A peer that is not a named proxy has its header ignored.
	elsewhere := newTestServer(t, New(b.client, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}))
	post(elsewhere, office, "10.1.2.3").requireError(t, http.StatusForbidden, sendoka.CodeIPNotAllowed)
	require.Equal(t, http.StatusOK, post(elsewhere, local, "10.1.2.3").status)
}

// TestScope: another org's messages do not exist for you.
func TestScope(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		_, otherKey := b.otherOrg(t, "other")

		emailID := b.send(t, "/api/v1/emails", b.live, quickstart())
		smsID := b.send(t, "/api/v1/sms", b.live, smsBody())

		for _, path := range []string{"/api/v1/emails/" + emailID, "/api/v1/sms/" + smsID} {
			b.do(t, req{method: http.MethodGet, path: path, key: otherKey}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
			require.Equal(t, http.StatusOK, b.do(t, req{method: http.MethodGet, path: path, key: b.live}).status)
		}
		// The wrong channel is as unknown as the wrong org.
		b.do(t, req{method: http.MethodGet, path: "/api/v1/sms/" + emailID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + smsID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/msg_unknown", key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)

		for _, path := range []string{"/api/v1/emails", "/api/v1/sms"} {
			var page EmailList
			b.do(t, req{method: http.MethodGet, path: path, key: otherKey}).decode(t, http.StatusOK, &page)
			require.Empty(t, page.Data, path)
			require.False(t, page.HasMore)
			require.Nil(t, page.NextCursor)
		}
	})
}

// TestList pages through emails by cursor, with filters. No workers run, so every message
// stays queued.
func TestList(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		var sent []string
		for i := range 5 {
			body := quickstart()
			body["subject"] = fmt.Sprintf("message %d", i)
			body["tags"] = []string{[]string{"even", "odd"}[i%2]}
			sent = append(sent, b.send(t, "/api/v1/emails", b.live, body))
		}
		smsID := b.send(t, "/api/v1/sms", b.live, smsBody())

		list := func(query string) EmailList {
			t.Helper()
			var page EmailList
			b.do(t, req{method: http.MethodGet, path: "/api/v1/emails?" + query, key: b.live}).decode(t, http.StatusOK, &page)
			return page
		}

		var seen []string
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 5, "pagination must end")
			page := list("limit=2&cursor=" + url.QueryEscape(cursor))
			require.LessOrEqual(t, len(page.Data), 2)
			for _, m := range page.Data {
				seen = append(seen, m.ID)
				require.Equal(t, "email", m.Channel)
				require.Equal(t, "queued", m.Status)
			}
			if !page.HasMore {
				require.Nil(t, page.NextCursor)
				break
			}
			require.NotNil(t, page.NextCursor)
			cursor = *page.NextCursor
		}
		// Newest first: the reverse of the send order (ids are time-sortable only to the
		// millisecond, so compare as sets and check the order by created_at below).
		require.ElementsMatch(t, sent, seen)
		require.NotContains(t, seen, smsID)
		all := list("limit=100")
		require.Len(t, all.Data, 5)
		require.False(t, all.HasMore)
		for i := 1; i < len(all.Data); i++ {
			require.GreaterOrEqual(t, all.Data[i-1].CreatedAt, all.Data[i].CreatedAt)
		}
		require.Len(t, list("").Data, 5, "default limit 20")

		even := list("tag=even")
		require.Len(t, even.Data, 3)
		for _, m := range even.Data {
			require.Equal(t, []string{"even"}, m.Tags)
		}
		require.Len(t, list("status=queued").Data, 5)
		require.Empty(t, list("status=delivered").Data)
		require.Empty(t, list("tag=none").Data)

		var smsPage SMSList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/sms", key: b.live}).decode(t, http.StatusOK, &smsPage)
		require.Len(t, smsPage.Data, 1)
		require.Equal(t, smsID, smsPage.Data[0].ID)

		for _, tc := range []struct {
			query string
			path  string
		}{
			{"limit=0", "limit"},
			{"limit=101", "limit"},
			{"limit=-1", "limit"},
			{"limit=ten", "limit"},
			{"status=lost", "status"},
			{"cursor=%21%21not-base64", "cursor"},
			{"cursor=" + strings.Repeat("A", 600), "cursor"},
		} {
			e := b.do(t, req{method: http.MethodGet, path: "/api/v1/emails?" + tc.query, key: b.live}).
				requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
			require.Len(t, e.Errors, 1, tc.query)
			require.Equal(t, []any{tc.path}, e.Errors[0].Path, tc.query)
		}
	})
}

// TestCursorOutOfRange: a cursor dated outside what the databases store (year 0 makes Postgres
// answer "date/time field value out of range") is a 422 at ["cursor"] on every list route,
// never a 500.
func TestCursorOutOfRange(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		b.send(t, "/api/v1/emails", b.live, quickstart()) // something to compare with
		cursor := func(ts string) string {
			return base64.RawURLEncoding.EncodeToString([]byte(ts + "|msg_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"))
		}
		for _, route := range []string{"/api/v1/emails", "/api/v1/sms", "/api/v1/templates", "/api/v1/phone-numbers", "/api/v1/phone-pools", "/api/v1/domains"} {
			for _, ts := range []string{"0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00"} {
				e := b.do(t, req{method: http.MethodGet, path: route + "?cursor=" + cursor(ts), key: b.live}).
					requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
				require.Len(t, e.Errors, 1, "%s %s: %+v", route, ts, e.Errors)
				require.Equal(t, []any{"cursor"}, e.Errors[0].Path, "%s %s", route, ts)
			}
			// The edges of the range are fine.
			for _, ts := range []string{"1970-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"} {
				res := b.do(t, req{method: http.MethodGet, path: route + "?cursor=" + cursor(ts), key: b.live})
				require.Equal(t, http.StatusOK, res.status, "%s %s: %s", route, ts, res.body)
			}
		}
	})
}

// TestListFilters: recipient (the first to, without case), stream and a creation range
// narrow a listing; bad values are 422.
func TestListFilters(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		first := quickstart()
		first["to"] = []string{"Ada@Example.com", "bob@example.com"}
		ada := b.send(t, "/api/v1/emails", b.live, first)
		other := b.send(t, "/api/v1/emails", b.live, quickstart())
		list := func(query string) []string {
			t.Helper()
			var page EmailList
			b.do(t, req{method: http.MethodGet, path: "/api/v1/emails?" + query, key: b.live}).decode(t, http.StatusOK, &page)
			var ids []string
			for _, m := range page.Data {
				ids = append(ids, m.ID)
			}
			return ids
		}
		require.Equal(t, []string{ada}, list("recipient=ada%40example.com"))
		require.Empty(t, list("recipient=bob%40example.com"), "the first recipient only")
		require.ElementsMatch(t, []string{ada, other}, list("stream=transactional"))
		require.Empty(t, list("stream=broadcast"))
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		require.ElementsMatch(t, []string{ada, other}, list("created_after="+past+"&created_before="+future))
		require.Empty(t, list("created_after="+future))
		require.Empty(t, list("created_before="+past))
		for _, q := range []string{"stream=bulk", "created_after=yesterday", "created_after=" + future + "&created_before=" + past} {
			b.do(t, req{method: http.MethodGet, path: "/api/v1/emails?" + q, key: b.live}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		}
	})
}
