package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// resendQuickstart is Resend's first email, from the sandbox domain.
func resendQuickstart() map[string]any {
	return map[string]any{
		"from":    "Acme <you@sandbox.sendoka.com>",
		"to":      "user@example.com",
		"subject": "Hello from Resend's shape",
		"html":    "<p>It works.</p>",
	}
}

// resendSend posts an email to the drop-in and returns its id.
func (b *bundle) resendSend(t testing.TB, key string, body any) string {
	t.Helper()
	res := b.do(t, req{method: http.MethodPost, path: "/resend/emails", key: key, body: body})
	var out map[string]any
	res.decode(t, http.StatusOK, &out)
	require.Equal(t, []string{"id"}, slices.Sorted(maps.Keys(out)), "Resend answers {id}: %s", res.body)
	id, _ := out["id"].(string)
	require.True(t, strings.HasPrefix(id, "msg_"), "%s", res.body)
	return id
}

// requireResendError checks that r is Resend's error body, exactly {statusCode, message,
// name}, with that status and name, and returns it.
func (r *response) requireResendError(t testing.TB, status int, name string) ResendError {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	r.requireRequestID(t)
	var keys map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(r.body, &keys), "body: %s", r.body)
	require.Equal(t, []string{"message", "name", "statusCode"}, slices.Sorted(maps.Keys(keys)), "body: %s", r.body)
	var e ResendError
	require.NoError(t, json.Unmarshal(r.body, &e))
	require.Equal(t, name, e.Name, "body: %s", r.body)
	require.Equal(t, status, e.StatusCode)
	require.NotEmpty(t, e.Message)
	return e
}

// TestResendSendAndGet: Resend's send shape (string or array addresses, tags, headers, an
// attachment) is accepted as a Sendoka message with the same content, and GET answers
// Resend's email object.
func TestResendSendAndGet(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		body := resendQuickstart()
		body["to"] = []string{"a@example.com", "b@example.com"}
		body["cc"] = "c@example.com"
		body["bcc"] = []string{"d@example.com"}
		body["reply_to"] = "support@example.com"
		body["text"] = "It works."
		body["headers"] = map[string]string{"X-Entity-Ref-ID": "42"}
		body["tags"] = []map[string]string{{"name": "category", "value": "confirm_email"}, {"name": "beta"}}
		body["attachments"] = []map[string]any{{"filename": "hello.txt", "content": base64.StdEncoding.EncodeToString([]byte("hello")), "content_type": "text/plain", "path": nil}}
		id := b.resendSend(t, b.live, body)

		var native EmailMessageDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: b.live}).decode(t, http.StatusOK, &native)
		require.Equal(t, []string{"a@example.com", "b@example.com"}, native.To)
		require.Equal(t, []string{"category:confirm_email", "beta"}, native.Tags, "tags map onto name:value")
		require.Equal(t, map[string]string{"X-Entity-Ref-ID": "42"}, native.Headers)
		require.Len(t, native.Attachments, 1)
		require.Equal(t, 5, native.Attachments[0].Size)
		require.False(t, native.TrackOpens, "tracking is off, as on a new Resend domain")
		require.False(t, native.TrackClicks)

		res := b.do(t, req{method: http.MethodGet, path: "/resend/emails/" + id, key: b.live})
		var raw map[string]json.RawMessage
		res.decode(t, http.StatusOK, &raw)
		require.Equal(t, []string{"bcc", "cc", "created_at", "from", "html", "id", "last_event", "object", "reply_to", "scheduled_at", "subject", "tags", "text", "to"},
			slices.Sorted(maps.Keys(raw)))
		var got ResendEmail
		require.NoError(t, json.Unmarshal(res.body, &got))
		require.Equal(t, ResendEmail{
			Object: "email", ID: id, To: []string{"a@example.com", "b@example.com"}, From: `"Acme" <you@sandbox.sendoka.com>`,
			CreatedAt: native.CreatedAt, Subject: "Hello from Resend's shape", HTML: new("<p>It works.</p>"), Text: new("It works."),
			Bcc: []string{"d@example.com"}, Cc: []string{"c@example.com"}, ReplyTo: []string{"support@example.com"},
			LastEvent: "queued", Tags: []ResendTag{{Name: "category", Value: "confirm_email"}, {Name: "beta"}},
		}, got)
		require.Regexp(t, timePattern, got.CreatedAt)

		// A bare send: no cc, bcc, reply_to or text are null, as Resend answers; no tags [].
		id = b.resendSend(t, b.live, resendQuickstart())
		res = b.do(t, req{method: http.MethodGet, path: "/resend/emails/" + id, key: b.live})
		res.decode(t, http.StatusOK, &raw)
		for _, k := range []string{"bcc", "cc", "reply_to", "text", "scheduled_at"} {
			require.JSONEq(t, "null", string(raw[k]), k)
		}
		require.JSONEq(t, "[]", string(raw["tags"]))

		// A scheduled send is scheduled.
		body = resendQuickstart()
		at := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
		body["scheduled_at"] = at.Format(time.RFC3339Nano)
		id = b.resendSend(t, b.live, body)
		b.do(t, req{method: http.MethodGet, path: "/resend/emails/" + id, key: b.live}).decode(t, http.StatusOK, &got)
		require.Equal(t, "scheduled", got.LastEvent)
		require.Equal(t, formatTime(at), *got.ScheduledAt)

		// An SMS is not an email.
		var sms SendResponse
		b.do(t, req{method: http.MethodPost, path: "/api/v1/sms", key: b.live, body: smsBody()}).decode(t, http.StatusOK, &sms)
		b.do(t, req{method: http.MethodGet, path: "/resend/emails/" + sms.ID, key: b.live}).requireResendError(t, http.StatusNotFound, "not_found")
	})
}

// TestResendDelivered: with the queue running, last_event follows the message to delivered.
func TestResendDelivered(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{workers: true})
		id := b.resendSend(t, b.test, resendQuickstart())
		var got ResendEmail
		eventually(t, 20*time.Second, func() bool {
			b.do(t, req{method: http.MethodGet, path: "/resend/emails/" + id, key: b.test}).decode(t, http.StatusOK, &got)
			return got.LastEvent == "delivered"
		}, "the sandbox delivers the email")
	})
}

// TestResendOpenAPI: the drop-in's operations are documented under their own tag, with
// Resend's error body and the Idempotency-Key header on the POSTs.
func TestResendOpenAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	var doc struct {
		Paths map[string]map[string]struct {
			Tags       []string `json:"tags"`
			Parameters []struct {
				Name string `json:"name"`
			} `json:"parameters"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	b.do(t, reqGet("/api/v1/openapi.json")).decode(t, http.StatusOK, &doc)
	for _, op := range []struct{ path, method string }{
		{"/resend/emails", "post"}, {"/resend/emails/batch", "post"}, {"/resend/emails/{id}", "get"},
	} {
		o := doc.Paths[op.path][op.method]
		require.Equal(t, []string{tagResend}, o.Tags, op.path)
		var params []string
		for _, p := range o.Parameters {
			params = append(params, p.Name)
		}
		if op.method == "post" {
			require.Contains(t, params, headerIdempotencyKey, op.path)
		}
	}
	for _, name := range []string{"ResendError", "ResendEmailRequest", "ResendEmail", "ResendBatchResponse"} {
		require.Contains(t, doc.Components.Schemas, name)
	}
}

// TestResendLastEvent: every status maps to Resend's last_event, a pending retry is
// delivery_delayed, and an open or click after the last status change is reported.
func TestResendLastEvent(t *testing.T) {
	t.Parallel()
	retry := time.Now()
	ev := func(typ sendoka.EventType, st sendoka.Status) sendoka.Event {
		return sendoka.Event{Type: typ, Status: st}
	}
	for _, tc := range []struct {
		m    sendoka.Message
		want string
	}{
		{sendoka.Message{Status: sendoka.StatusQueued}, "queued"},
		{sendoka.Message{Status: sendoka.StatusQueued, NextRetryAt: &retry}, "delivery_delayed"},
		{sendoka.Message{Status: sendoka.StatusScheduled}, "scheduled"},
		{sendoka.Message{Status: sendoka.StatusSent}, "sent"},
		{sendoka.Message{Status: sendoka.StatusDelivered}, "delivered"},
		{sendoka.Message{Status: sendoka.StatusBounced}, "bounced"},
		{sendoka.Message{Status: sendoka.StatusFailed}, "failed"},
		{sendoka.Message{Status: sendoka.StatusCanceled}, "canceled"},
		{sendoka.Message{Status: sendoka.StatusDelivered, Events: []sendoka.Event{
			ev(sendoka.EventSent, sendoka.StatusSent), ev(sendoka.EventDelivered, sendoka.StatusDelivered), ev(sendoka.EventOpened, "")}}, "opened"},
		{sendoka.Message{Status: sendoka.StatusDelivered, Events: []sendoka.Event{
			ev(sendoka.EventOpened, ""), ev(sendoka.EventClicked, "")}}, "clicked"},
		{sendoka.Message{Status: sendoka.StatusDelivered, Events: []sendoka.Event{
			ev(sendoka.EventSent, sendoka.StatusSent), ev(sendoka.EventOpened, ""), ev(sendoka.EventDelivered, sendoka.StatusDelivered)}}, "delivered"},
		{sendoka.Message{Status: sendoka.StatusBounced, Events: []sendoka.Event{ev(sendoka.EventOpened, "")}}, "bounced"},
	} {
		require.Equal(t, tc.want, resendLastEvent(&tc.m), "%+v", tc.m)
	}
}

// TestResendErrors: every failure of the Resend routes is Resend's body with Resend's name,
// never the envelope, and never a 500 for bad input.
func TestResendErrors(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		_, smsOnly := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionSMSSend}})
		with := func(change func(m map[string]any)) map[string]any {
			m := resendQuickstart()
			change(m)
			return m
		}
		post := func(key string, body any, header map[string]string) *response {
			return b.do(t, req{method: http.MethodPost, path: "/resend/emails", key: key, body: body, header: header})
		}
		for _, tc := range []struct {
			name     string
			res      func() *response
			status   int
			errName  string
			contains string
		}{
			{"no key", func() *response { return post("", resendQuickstart(), nil) }, 401, "missing_api_key", "Missing API key"},
			{"unknown key", func() *response { return post(sendoka.NewKeyPlaintext(sendoka.ModeLive), resendQuickstart(), nil) }, 403, "invalid_api_key", ""},
			{"not a bearer", func() *response {
				return post("", resendQuickstart(), map[string]string{"Authorization": "Basic eDp5"})
			}, 403, "invalid_api_key", ""},
			{"an SMS-only key reads", func() *response {
				return b.do(t, req{method: http.MethodGet, path: "/resend/emails/msg_01NOSUCH", key: smsOnly})
			}, 401, "restricted_api_key", "emails:"},
			{"an SMS-only key sends", func() *response { return post(smsOnly, resendQuickstart(), nil) }, 401, "restricted_api_key", "emails:send"},
			{"missing to", func() *response { return post(b.live, with(func(m map[string]any) { delete(m, "to") }), nil) }, 422, "missing_required_field", "Missing `to` field."},
			{"null from", func() *response { return post(b.live, with(func(m map[string]any) { m["from"] = nil }), nil) }, 422, "missing_required_field", "Missing `from` field."},
			{"missing subject", func() *response {
				return post(b.live, with(func(m map[string]any) { delete(m, "subject") }), nil)
			}, 422, "missing_required_field", "`subject`"},
			{"bad address", func() *response {
				return post(b.live, with(func(m map[string]any) { m["to"] = []string{"a@example.com", "not an address"} }), nil)
			}, 422, "validation_error", "`to[1]`"},
			{"to of the wrong type", func() *response { return post(b.live, with(func(m map[string]any) { m["to"] = 42 }), nil) }, 422, "validation_error", "`to`"},
			{"subject of the wrong type", func() *response {
				return post(b.live, with(func(m map[string]any) { m["subject"] = []string{"x"} }), nil)
			}, 422, "validation_error", "`subject`"},
			{"not JSON", func() *response { return post(b.live, "{", nil) }, 422, "validation_error", "JSON"},
			{"an array", func() *response { return post(b.live, "[]", nil) }, 422, "validation_error", "object"},
			{"unknown field", func() *response { return post(b.live, with(func(m map[string]any) { m["Subject"] = "x" }), nil) }, 422, "validation_error", "`Subject`"},
			{"a Resend template", func() *response {
				return post(b.live, with(func(m map[string]any) { m["template"] = map[string]any{"id": "t"} }), nil)
			}, 422, "validation_error", "not supported"},
			{"attachment by URL", func() *response {
				return post(b.live, with(func(m map[string]any) {
					m["attachments"] = []map[string]any{{"filename": "a.pdf", "path": "https://example.com/a.pdf"}}
				}), nil)
			}, 422, "invalid_attachment", "`path`"},
			{"attachment without content", func() *response {
				return post(b.live, with(func(m map[string]any) { m["attachments"] = []map[string]any{{"filename": "a.txt"}} }), nil)
			}, 422, "invalid_attachment", "`content`"},
			{"attachment not base64", func() *response {
				return post(b.live, with(func(m map[string]any) {
					m["attachments"] = []map[string]any{{"filename": "a.txt", "content": "!!!"}}
				}), nil)
			}, 422, "invalid_attachment", "attachments[0].content"},
			{"natural-language schedule", func() *response {
				return post(b.live, with(func(m map[string]any) { m["scheduled_at"] = "in 1 min" }), nil)
			}, 422, "validation_error", "natural-language"},
			{"schedule in the past", func() *response {
				return post(b.live, with(func(m map[string]any) { m["scheduled_at"] = "2020-01-01T00:00:00Z" }), nil)
			}, 422, "validation_error", "`scheduled_at`"},
			{"tag with a colon", func() *response {
				return post(b.live, with(func(m map[string]any) { m["tags"] = []map[string]string{{"name": "a:b", "value": "c"}} }), nil)
			}, 422, "validation_error", "tags[0]"},
			{"tag without a name", func() *response {
				return post(b.live, with(func(m map[string]any) { m["tags"] = []map[string]string{{"value": "c"}} }), nil)
			}, 422, "missing_required_field", "tags[0].name"},
			{"too many tags", func() *response {
				return post(b.live, with(func(m map[string]any) {
					tags := make([]map[string]string, 11)
					for i := range tags {
						tags[i] = map[string]string{"name": "t", "value": string(rune('a' + i))}
					}
					m["tags"] = tags
				}), nil)
			}, 422, "validation_error", "`tags`"},
			{"reserved header", func() *response {
				return post(b.live, with(func(m map[string]any) { m["headers"] = map[string]string{"From": "x@example.com"} }), nil)
			}, 422, "validation_error", "`headers.From`"},
			{"a NUL", func() *response {
				return post(b.live, with(func(m map[string]any) { m["subject"] = "a\x00b" }), nil)
			}, 422, "validation_error", "`subject`"},
			{"a domain not yours", func() *response {
				return post(b.live, with(func(m map[string]any) { m["from"] = "x@not-mine.example.com" }), nil)
			}, 422, "validation_error", "from"},
			{"idempotency key too long", func() *response {
				return post(b.live, resendQuickstart(), idem(strings.Repeat("k", 256)))
			}, 400, "invalid_idempotency_key", ""},
			{"unknown email", func() *response {
				return b.do(t, req{method: http.MethodGet, path: "/resend/emails/msg_01NOSUCH", key: b.live})
			}, 404, "not_found", ""},
			{"unknown route", func() *response {
				return b.do(t, req{method: http.MethodGet, path: "/resend/domains", key: b.live})
			}, 404, "not_found", ""},
			{"wrong method", func() *response {
				return b.do(t, req{method: http.MethodDelete, path: "/resend/emails", key: b.live})
			}, 405, "method_not_allowed", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := tc.res().requireResendError(t, tc.status, tc.errName)
				require.Contains(t, e.Message, tc.contains)
			})
		}
		require.Equal(t, 0, countRows(t, b), "no bad request sent anything")
	})
}

// TestResendLimits: the burst limit and the monthly quota answer Resend's 429s, with the
// same rate-limit headers as the native routes.
func TestResendLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	b.do(t, req{method: http.MethodPatch, path: "/api/v1/org", key: b.live, body: map[string]any{
		"limits": map[string]any{"burst_per_minute": 3, "monthly_emails": 1},
	}}).decode(t, http.StatusOK, &OrgObject{})
	// The quota counts live mail from a verified domain of the org's.
	b.publish(b.createDomain(t, b.live, "quota.example"))
	var dom DomainList
	b.do(t, req{method: http.MethodGet, path: "/api/v1/domains", key: b.live}).decode(t, http.StatusOK, &dom)
	b.do(t, req{method: http.MethodPost, path: "/api/v1/domains/" + dom.Data[0].ID + "/verify", key: b.live}).decode(t, http.StatusOK, &Domain{})
	mail := resendQuickstart()
	mail["from"] = "Acme <a@quota.example>"

	_, key := b.key(t, sendoka.CreateKeyParams{})
	first := b.do(t, req{method: http.MethodPost, path: "/resend/emails", key: key, body: mail})
	require.Equal(t, http.StatusOK, first.status, "%s", first.body)
	require.Equal(t, "3", first.header.Get("X-RateLimit-Limit"))
	require.Equal(t, "2", first.header.Get("X-RateLimit-Remaining"))

	e := b.do(t, req{method: http.MethodPost, path: "/resend/emails", key: key, body: mail}).
		requireResendError(t, http.StatusTooManyRequests, "monthly_quota_exceeded")
	require.Contains(t, e.Message, "monthly quota")
	b.do(t, req{method: http.MethodGet, path: "/resend/emails/msg_01NOSUCH", key: key}).requireResendError(t, http.StatusNotFound, "not_found")
	res := b.do(t, req{method: http.MethodPost, path: "/resend/emails", key: key, body: resendQuickstart()})
	res.requireResendError(t, http.StatusTooManyRequests, "rate_limit_exceeded")
	require.NotEmpty(t, res.header.Get("Retry-After"))
	require.Equal(t, "0", res.header.Get("X-RateLimit-Remaining"))
}

// TestResendErrorMapping: the codes no request here can provoke map as documented; a 500
// never says why.
func TestResendErrorMapping(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    *sendoka.Error
		status int
		name   string
	}{
		{sendoka.Internal(context.DeadlineExceeded), 500, "application_error"},
		{&sendoka.Error{Code: "SOMETHING_NEW", Message: "secret detail"}, 500, "application_error"},
		{&sendoka.Error{Code: sendoka.CodeUnavailable, Message: "database unavailable; retry"}, 503, "application_error"},
		{&sendoka.Error{Code: sendoka.CodeWarmupLimitExceeded, Message: "warming up"}, 429, "daily_quota_exceeded"},
		{&sendoka.Error{Code: sendoka.CodeIdempotencyMismatch, Message: "x"}, 409, "invalid_idempotent_request"},
		{&sendoka.Error{Code: sendoka.CodeIdempotencyInFlight, Message: "x"}, 409, "concurrent_idempotent_requests"},
		{&sendoka.Error{Code: sendoka.CodeAttachmentTooLarge, Message: "x"}, 422, "invalid_attachment"},
		{&sendoka.Error{Code: sendoka.CodeDomainNotAllowedForKey, Message: "x"}, 403, "invalid_from_address"},
		{&sendoka.Error{Code: sendoka.CodeIPNotAllowed, Message: "x"}, 403, "restricted_api_key"},
		{&sendoka.Error{Code: CodeRequestTooLarge, Message: "x"}, 413, "validation_error"},
	} {
		status, body := resendBody(tc.err, false)
		require.Equal(t, tc.status, status, "%v", tc.err)
		require.Equal(t, ResendError{StatusCode: tc.status, Name: tc.name, Message: body.Message}, *body)
		if status == http.StatusInternalServerError {
			require.Equal(t, internalMessage, body.Message)
		}
	}
}

// TestResendIdempotency: Idempotency-Key on the Resend routes behaves as on the native ones:
// a retry gets the first answer byte for byte, another body is invalid_idempotent_request,
// a key still held is concurrent_idempotent_requests; keys of the two APIs do not mix.
func TestResendIdempotency(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		post := func(path string, body any, key string, header map[string]string) *response {
			return b.do(t, req{method: http.MethodPost, path: path, key: key, body: body, header: header})
		}
		first := post("/resend/emails", resendQuickstart(), b.live, idem("welcome-1"))
		require.Equal(t, http.StatusOK, first.status, "%s", first.body)
		again := post("/resend/emails", resendQuickstart(), b.live, idem("welcome-1"))
		require.Equal(t, http.StatusOK, again.status)
		require.Equal(t, "true", again.header.Get(headerIdempotentReplayed))
		require.Equal(t, first.body, again.body)
		require.Equal(t, 1, countRows(t, b))

		other := resendQuickstart()
		other["subject"] = "Another"
		e := post("/resend/emails", other, b.live, idem("welcome-1")).requireResendError(t, http.StatusConflict, "invalid_idempotent_request")
		require.Contains(t, e.Message, "different request body")

		// The same key on the native route is another operation's.
		native := post("/api/v1/emails", quickstart(), b.live, idem("welcome-1"))
		require.Equal(t, http.StatusOK, native.status)
		require.Empty(t, native.header.Get(headerIdempotentReplayed))

		// A 4xx is stored and replayed too.
		bad := resendQuickstart()
		delete(bad, "to")
		r1 := post("/resend/emails", bad, b.live, idem("bad-1"))
		r1.requireResendError(t, http.StatusUnprocessableEntity, "missing_required_field")
		r2 := post("/resend/emails", bad, b.live, idem("bad-1"))
		require.Equal(t, "true", r2.header.Get(headerIdempotentReplayed))
		require.Equal(t, r1.body, r2.body)

		// A request holding the key.
		p, err := b.client.Authenticate(context.Background(), b.live, netip.Addr{})
		require.NoError(t, err)
		raw, err := json.Marshal(resendQuickstart())
		require.NoError(t, err)
		_, err = b.client.BeginIdempotent(context.Background(), p, sendoka.IdempotencyRequest{Route: "POST /resend/emails", Key: "held", Body: raw})
		require.NoError(t, err)
		res := post("/resend/emails", resendQuickstart(), b.live, idem("held"))
		res.requireResendError(t, http.StatusConflict, "concurrent_idempotent_requests")
		require.Equal(t, "1", res.header.Get("Retry-After"))

		// Batches too.
		rows := []any{resendQuickstart(), resendQuickstart()}
		before := countRows(t, b)
		one := post("/resend/emails/batch", rows, b.live, idem("batch-1"))
		require.Equal(t, http.StatusOK, one.status, "%s", one.body)
		two := post("/resend/emails/batch", rows, b.live, idem("batch-1"))
		require.Equal(t, "true", two.header.Get(headerIdempotentReplayed))
		require.Equal(t, one.body, two.body)
		require.Equal(t, before+2, countRows(t, b))
	})
}

// TestResendBatch: strict batches are all or nothing, whether a row fails to decode or the
// core refuses it; permissive batches send the valid rows and list the others.
func TestResendBatch(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		email := func(to string) map[string]any {
			m := resendQuickstart()
			m["to"] = to
			return m
		}
		noTo := resendQuickstart()
		delete(noTo, "to")
		post := func(body any, mode string) *response {
			var h map[string]string
			if mode != "" {
				h = map[string]string{headerBatchValidation: mode}
			}
			return b.do(t, req{method: http.MethodPost, path: "/resend/emails/batch", key: b.live, body: body, header: h})
		}

		var ok ResendBatchResponse
		res := post([]any{email("a@example.com"), email("b@example.com")}, "")
		res.decode(t, http.StatusOK, &ok)
		require.Len(t, ok.Data, 2)
		require.Nil(t, ok.Errors)
		var keys map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(res.body, &keys))
		require.Equal(t, []string{"data"}, slices.Sorted(maps.Keys(keys)), "strict answers only data")
		var got ResendEmail
		b.do(t, req{method: http.MethodGet, path: "/resend/emails/" + ok.Data[1].ID, key: b.live}).decode(t, http.StatusOK, &got)
		require.Equal(t, []string{"b@example.com"}, got.To, "in order")
		require.Equal(t, 2, countRows(t, b))

		// Strict: a row that does not decode, or one the core refuses, refuses the batch.
		e := post([]any{email("a@example.com"), noTo}, "strict").requireResendError(t, http.StatusUnprocessableEntity, "missing_required_field")
		require.Equal(t, "emails[1]: Missing `to` field.", e.Message)
		e = post([]any{email("a@example.com"), email("c@example.com"), email("not an address")}, "").
			requireResendError(t, http.StatusUnprocessableEntity, "validation_error")
		require.Contains(t, e.Message, "emails[2]: Invalid `to[0]` field")
		require.Equal(t, 2, countRows(t, b), "nothing of a refused strict batch was sent")

		// Permissive: the valid rows go, the others are listed.
		var mixed ResendBatchResponse
		post([]any{noTo, email("d@example.com"), email("not an address")}, "permissive").decode(t, http.StatusOK, &mixed)
		require.Len(t, mixed.Data, 1)
		require.NotNil(t, mixed.Errors)
		require.Equal(t, []int{0, 2}, []int{(*mixed.Errors)[0].Index, (*mixed.Errors)[1].Index})
		require.Equal(t, "Missing `to` field.", (*mixed.Errors)[0].Message)
		require.Contains(t, (*mixed.Errors)[1].Message, "`to[0]`")
		require.Equal(t, 3, countRows(t, b))
		var none ResendBatchResponse
		res = post([]any{noTo}, "PERMISSIVE")
		res.decode(t, http.StatusOK, &none)
		require.Empty(t, none.Data)
		require.Len(t, *none.Errors, 1)
		require.JSONEq(t, `{"data":[],"errors":[{"index":0,"message":"Missing `+"`to`"+` field."}]}`, string(res.body))

		withAttachment := email("e@example.com")
		withAttachment["attachments"] = []map[string]any{{"filename": "a.txt", "content": "aGk="}}
		scheduled := email("e@example.com")
		scheduled["scheduled_at"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		tooMany := make([]any, sendoka.MaxBatch+1)
		for i := range tooMany {
			tooMany[i] = email("f@example.com")
		}
		for _, tc := range []struct {
			name     string
			body     any
			mode     string
			contains string
		}{
			{"attachments", []any{withAttachment}, "", "`attachments` field is not supported in batch"},
			{"scheduled_at", []any{scheduled}, "", "`scheduled_at` field is not supported in batch"},
			{"empty", []any{}, "", "at least one"},
			{"too many", tooMany, "permissive", "at most 100"},
			{"an object", resendQuickstart(), "", "array"},
			{"not JSON", "[", "", "JSON"},
			{"bad mode", []any{email("g@example.com")}, "lenient", "x-batch-validation"},
		} {
			e := post(tc.body, tc.mode).requireResendError(t, http.StatusUnprocessableEntity, "validation_error")
			require.Contains(t, e.Message, tc.contains, tc.name)
		}
		// A key that may not send learns so even when no row is valid.
		_, readOnly := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionEmailsRead}})
		b.do(t, req{method: http.MethodPost, path: "/resend/emails/batch", key: readOnly, body: []any{noTo},
			header: map[string]string{headerBatchValidation: "permissive"}}).requireResendError(t, http.StatusUnauthorized, "restricted_api_key")
		require.Equal(t, 3, countRows(t, b))
	})
}

// resendSDKVersion is the version of Resend's Node SDK TestResendSDK runs (pinned in
// testdata/resend-sdk/package-lock.json; the README names it).
const resendSDKVersion = "6.38.0"

// TestResendSDK runs Resend's own Node SDK (the resend package, resendSDKVersion) against
// the drop-in, configured as an app switching from Resend would be: RESEND_BASE_URL and
// RESEND_API_KEY. The script checks every answer the SDK hands back (send, get, batch in
// both modes, an idempotent send twice, errors by name); here the database must agree.
func TestResendSDK(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "resend-sdk")
	// The package has no executable: its installed manifest marks the install as done.
	npmInstall(t, dir, filepath.Join("..", "resend", "package.json"))
	node := needNode(t, "node")
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "check.mjs")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "RESEND_BASE_URL="+b.server.URL+resendPrefix, "RESEND_API_KEY="+b.live)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, "the SDK script failed:\n%s%s", out, stderr.String())

		var seen struct {
			SDK        string      `json:"sdk"`
			Sent       string      `json:"sent"`
			Batch      []string    `json:"batch"`
			Partial    []string    `json:"partial"`
			Idempotent string      `json:"idempotent"`
			Invalid    ResendError `json:"invalid"`
		}
		require.NoError(t, json.Unmarshal(out, &seen), "%s", out)
		require.Equal(t, resendSDKVersion, seen.SDK)
		for _, id := range append([]string{seen.Sent, seen.Idempotent}, append(seen.Batch, seen.Partial...)...) {
			var got EmailMessageDetail
			b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: b.live}).decode(t, http.StatusOK, &got)
		}
		var sent EmailMessageDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + seen.Sent, key: b.live}).decode(t, http.StatusOK, &sent)
		require.Equal(t, []string{"category:confirm_email"}, sent.Tags)
		require.Len(t, sent.Attachments, 1)
		require.Equal(t, "text/plain", sent.Attachments[0].ContentType)
		require.Equal(t, 5, sent.Attachments[0].Size, "the SDK's Buffer arrived as base64")
		require.Equal(t, "validation_error", seen.Invalid.Name)
		// One send, one email per batch row, one idempotent email (sent twice), one permissive row.
		require.Equal(t, 1+2+1+1, countRows(t, b), "the refused strict batch sent nothing")
	})
}
