package httpapi

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

func TestTemplatesAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		post := func(body any) *response {
			return b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: b.test, body: body})
		}

		var tpl Template
		post(map[string]any{
			"slug": "welcome-v2", "channel": "email", "name": "Welcome",
			"subject": "Welcome, {{name}}", "html": "<p>{{ name }} on {{plan}}</p>{{{footer}}}",
		}).decode(t, http.StatusOK, &tpl)
		require.Regexp(t, `^tpl_`, tpl.ID)
		require.Equal(t, "welcome-v2", tpl.Slug)
		require.Equal(t, "email", tpl.Channel)
		require.Equal(t, []string{"name", "plan", "footer"}, tpl.Variables)
		require.Nil(t, tpl.Text)
		require.Nil(t, tpl.Body)
		require.Equal(t, 1, tpl.Version)
		require.Regexp(t, timePattern, tpl.CreatedAt)

		// Save-time errors.
		e := post(map[string]any{"slug": "x", "channel": "email", "html": "Hi {{name"}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldInvalid, "html"), "%+v", e)
		// A taken slug is 409 CONFLICT, as every taken name is.
		e = post(map[string]any{"slug": "welcome-v2", "channel": "email", "html": "x"}).requireError(t, http.StatusConflict, sendoka.CodeConflict)
		require.Contains(t, e.Message, "welcome-v2")
		post(map[string]any{"slug": "x", "channel": "fax", "body": "x"}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		post(map[string]any{"slug": "x", "channel": "sms", "body": "x", "extra": 1}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		post(map[string]any{"channel": "sms", "body": "x"}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)

		// By id and by slug.
		for _, ref := range []string{tpl.ID, "welcome-v2"} {
			var got Template
			b.do(t, req{method: http.MethodGet, path: "/api/v1/templates/" + ref, key: b.test}).decode(t, http.StatusOK, &got)
			require.Equal(t, tpl, got)
		}
		b.do(t, req{method: http.MethodGet, path: "/api/v1/templates/nope", key: b.test}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)

		// PATCH: absent or null leaves a field, "" clears it; the channel is not a field.
		var upd Template
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/templates/welcome-v2", key: b.test,
			body: `{"subject": "Hi {{first}}", "name": null, "text": "plain {{first}}"}`}).decode(t, http.StatusOK, &upd)
		require.Equal(t, "Hi {{first}}", *upd.Subject)
		require.Equal(t, "Welcome", *upd.Name)
		require.Equal(t, "plain {{first}}", *upd.Text)
		require.Equal(t, []string{"first", "name", "plan", "footer"}, upd.Variables)
		require.Equal(t, 2, upd.Version)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/templates/" + tpl.ID, key: b.test, body: `{"text": ""}`}).decode(t, http.StatusOK, &upd)
		require.Nil(t, upd.Text)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/templates/" + tpl.ID, key: b.test, body: `{"channel": "sms"}`}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		b.do(t, req{method: http.MethodPatch, path: "/api/v1/templates/" + tpl.ID, key: b.test, body: `{"html": "{{"}`}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)

		// Listing pages with a cursor and filters by channel.
		var sms Template
		post(map[string]any{"slug": "code", "channel": "sms", "body": "Code {{code}}"}).decode(t, http.StatusOK, &sms)
		var page TemplateList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/templates?limit=1", key: b.test}).decode(t, http.StatusOK, &page)
		require.True(t, page.HasMore)
		require.Equal(t, sms.ID, page.Data[0].ID, "newest first")
		b.do(t, req{method: http.MethodGet, path: "/api/v1/templates?limit=1&cursor=" + url.QueryEscape(*page.NextCursor), key: b.test}).decode(t, http.StatusOK, &page)
		require.False(t, page.HasMore)
		require.Nil(t, page.NextCursor)
		require.Equal(t, tpl.ID, page.Data[0].ID)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/templates?channel=sms", key: b.test}).decode(t, http.StatusOK, &page)
		require.Len(t, page.Data, 1)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/templates?channel=fax", key: b.test}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)

		// A sending key reads templates but does not manage them.
		_, sendOnly := b.key(t, sendoka.CreateKeyParams{Mode: sendoka.ModeTest, Permissions: []sendoka.Permission{sendoka.PermissionEmailsSend}})
		b.do(t, req{method: http.MethodGet, path: "/api/v1/templates/code", key: sendOnly}).decode(t, http.StatusOK, &Template{})
		b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: sendOnly, body: map[string]any{"slug": "y", "channel": "sms", "body": "x"}}).
			requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/templates/code", key: sendOnly}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)

		var del TemplateDeleted
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/templates/code", key: b.test}).decode(t, http.StatusOK, &del)
		require.Equal(t, TemplateDeleted{ID: sms.ID, Deleted: true}, del)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/templates/" + sms.ID, key: b.test}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/templates/code", key: b.test}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
	})
}

func TestSendWithTemplateAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: b.test, body: map[string]any{
			"slug": "order_shipped", "channel": "email", "subject": "Order {{order_id}} shipped",
			"html": `<a href="{{tracking_url}}">Track {{order_id}}</a>`,
		}}).decode(t, http.StatusOK, &Template{})
		b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: b.test, body: map[string]any{
			"slug": "order_shipped_sms", "channel": "sms", "body": "Order {{order_id}} shipped: {{tracking_url}}",
		}}).decode(t, http.StatusOK, &Template{})

		// The docs' "more request shapes": no subject, no body.
		vars := map[string]any{"order_id": "ord_abc123", "tracking_url": "https://track.example.com/ord_abc123?a=1&b=2"}
		id := b.send(t, "/api/v1/emails", b.test, map[string]any{
			"from": "you@sandbox.sendoka.com", "to": []string{"user@example.com"},
			"template": "order_shipped", "variables": vars,
		})
		var got EmailMessageDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/" + id, key: b.test}).decode(t, http.StatusOK, &got)
		require.Equal(t, "Order ord_abc123 shipped", got.Subject)
		require.Contains(t, *got.HTML, `href="https://track.example.com/ord_abc123?a=1&amp;b=2"`)

		smsID := b.send(t, "/api/v1/sms", b.test, map[string]any{
			"from": "+15551234567", "to": "+15559876543", "template": "order_shipped_sms", "variables": vars,
		})
		var gotSMS SMSMessageDetail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/sms/" + smsID, key: b.test}).decode(t, http.StatusOK, &gotSMS)
		require.Equal(t, "Order ord_abc123 shipped: https://track.example.com/ord_abc123?a=1&b=2", gotSMS.Body)

		// Missing variables: one error per name.
		e := b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.test, body: map[string]any{
			"from": "you@sandbox.sendoka.com", "to": []string{"user@example.com"}, "template": "order_shipped",
			"variables": map[string]any{"order_id": "1"},
		}}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeTemplateMissingVariables)
		require.Len(t, e.Errors, 1)
		require.True(t, hasField(e, sendoka.FieldRequired, "variables", "tracking_url"), "%+v", e)

		// Unknown slug; a template of the other channel.
		for _, slug := range []string{"nope", "order_shipped_sms"} {
			e := b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.test, body: map[string]any{
				"from": "you@sandbox.sendoka.com", "to": []string{"user@example.com"}, "template": slug, "variables": vars,
			}}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
			require.True(t, hasField(e, sendoka.FieldInvalid, "template"), "%s: %+v", slug, e)
		}
		// Without a template the subject is still required.
		e = b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.test, body: map[string]any{
			"from": "you@sandbox.sendoka.com", "to": []string{"user@example.com"}, "html": "<p>x</p>",
		}}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldRequired, "subject") || hasField(e, sendoka.FieldInvalidType, "subject"), "%+v", e)
	})
}

// TestPreviewTemplateAPI: a draft renders with the sample (HTML values escaped), names what
// the sample lacks, stores nothing, and a draft that does not parse is a 422.
func TestPreviewTemplateAPI(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		var pv TemplatePreview
		b.do(t, req{method: http.MethodPost, path: "/api/v1/templates/preview", key: b.test, body: map[string]any{
			"subject": "Welcome, {{name}}", "html": "<p>{{name}} on {{plan}} {{order.id}}</p>", "variables": map[string]any{"name": "<Ada>"},
		}}).decode(t, http.StatusOK, &pv)
		require.Equal(t, "Welcome, <Ada>", pv.Subject)
		require.Equal(t, "<p>&lt;Ada&gt; on  </p>", pv.HTML)
		require.Equal(t, []string{"name", "plan", "order.id"}, pv.Variables)
		require.Equal(t, []string{"plan", "order.id"}, pv.Missing)

		b.do(t, req{method: http.MethodPost, path: "/api/v1/templates/preview", key: b.test, body: map[string]any{
			"channel": "sms", "body": "Code {{code}}", "variables": map[string]any{"code": 1234},
		}}).decode(t, http.StatusOK, &pv)
		require.Equal(t, "Code 1234", pv.Body)
		require.Empty(t, pv.Missing)

		e := b.do(t, req{method: http.MethodPost, path: "/api/v1/templates/preview", key: b.test, body: map[string]any{"html": "Hi {{name"}}).
			requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.True(t, hasField(e, sendoka.FieldInvalid, "html"), "%+v", e)
		var list TemplateList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/templates", key: b.test}).decode(t, http.StatusOK, &list)
		require.Empty(t, list.Data, "a preview stores nothing")
	})
}
