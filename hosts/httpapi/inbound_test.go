package httpapi

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestInboundOverHTTP: routes are created, listed, read and deleted; bad matches, domains
// that are not the caller's, taken matches and missing scopes get the documented errors;
// received emails are listed without bodies, read with them, and their attachments fetched.
func TestInboundOverHTTP(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		var route InboundRoute
		b.do(t, req{method: http.MethodPost, path: "/api/v1/inbound-routes", key: b.live,
			body: map[string]any{"match": "Support@In.Example.com"}}).decode(t, http.StatusOK, &route)
		require.Equal(t, "support@in.example.com", route.Match, "lower-cased")
		require.True(t, route.ForwardWebhook, "the default")

		for body, code := range map[string]sendoka.Code{
			"support@in.example.com": sendoka.CodeConflict, // routed already
			"not an address":         sendoka.CodeValidation,
			"a*b@in.example.com":     sendoka.CodeValidation,
			"x@not-mine.example.net": sendoka.CodeValidation, // neither verified nor an inbound domain
			"":                       sendoka.CodeValidation,
		} {
			status := http.StatusUnprocessableEntity
			if code == sendoka.CodeConflict {
				status = http.StatusConflict
			}
			b.do(t, req{method: http.MethodPost, path: "/api/v1/inbound-routes", key: b.live,
				body: map[string]any{"match": body}}).requireError(t, status, code)
		}
		_, sendOnly := b.key(t, sendoka.CreateKeyParams{Permissions: []sendoka.Permission{sendoka.PermissionEmailsSend}})
		b.do(t, req{method: http.MethodGet, path: "/api/v1/inbound-routes", key: sendOnly}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/inbound-emails", key: sendOnly}).requireError(t, http.StatusForbidden, sendoka.CodeInsufficientScope)

		var routes InboundRouteList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/inbound-routes", key: b.live}).decode(t, http.StatusOK, &routes)
		require.Len(t, routes.Data, 1)

		ctx := context.Background()
		r, err := b.client.InboundRouteFor(ctx, "SUPPORT@in.example.com")
		require.NoError(t, err)
		require.Equal(t, route.ID, r.ID)
		e, err := b.client.ReceiveInboundEmail(ctx, r, &sendoka.InboundMessage{MailFrom: "ada@example.org", RcptTo: r.Match,
			From: "Ada <ada@example.org>", To: []string{r.Match}, Subject: "Hi", Text: "Hello\x00 there", HTML: "<p>Hello</p>",
			Headers:     []sendoka.InboundHeader{{Name: "Subject", Value: "Hi"}},
			Attachments: []sendoka.InboundAttachment{{Filename: "a.bin", ContentType: "application/octet-stream", Content: []byte{0, 1, 2}}}})
		require.NoError(t, err)

		var list InboundEmailList
		b.do(t, req{method: http.MethodGet, path: "/api/v1/inbound-emails", key: b.live}).decode(t, http.StatusOK, &list)
		require.Len(t, list.Data, 1)
		require.Nil(t, list.Data[0].Text, "no bodies in a listing")
		require.Equal(t, int64(3), list.Data[0].Attachments[0].Size)

		var got InboundEmail
		b.do(t, req{method: http.MethodGet, path: "/api/v1/inbound-emails/" + e.ID, key: b.live}).decode(t, http.StatusOK, &got)
		require.Equal(t, "Hello there", *got.Text, "NUL is dropped")
		require.Equal(t, "<p>Hello</p>", *got.HTML)
		require.Equal(t, []InboundHeader{{Name: "Subject", Value: "Hi"}}, got.Headers)
		require.Equal(t, "ada@example.org", got.Envelope.MailFrom)

		var att InboundAttachmentContent
		b.do(t, req{method: http.MethodGet, path: "/api/v1/inbound-emails/" + e.ID + "/attachments/0", key: b.live}).decode(t, http.StatusOK, &att)
		require.Equal(t, []byte{0, 1, 2}, att.Content)
		require.Equal(t, "a.bin", att.Filename)
		for _, n := range []string{"1", "-1", "x"} {
			b.do(t, req{method: http.MethodGet, path: "/api/v1/inbound-emails/" + e.ID + "/attachments/" + n, key: b.live}).
				requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		}

		var del InboundRouteDeleted
		b.do(t, req{method: http.MethodDelete, path: "/api/v1/inbound-routes/" + route.ID, key: b.live}).decode(t, http.StatusOK, &del)
		require.True(t, del.Deleted)
		b.do(t, req{method: http.MethodGet, path: "/api/v1/inbound-routes/" + route.ID, key: b.live}).requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
		_, err = b.client.InboundRouteFor(ctx, "support@in.example.com")
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err), "mail to a deleted route is refused")
		b.do(t, req{method: http.MethodGet, path: "/api/v1/inbound-emails/" + e.ID, key: b.live}).decode(t, http.StatusOK, &got)
	})
}
