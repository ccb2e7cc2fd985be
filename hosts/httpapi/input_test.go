package httpapi

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestNUL: a NUL character anywhere (valid JSON, refused by Postgres) is bad input, never
// a database error, on both databases.
func TestNUL(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := setup(t, db, setupConfig{})
		const from = `"from":"you@sandbox.sendoka.com","to":["a@example.com"],"subject":"s"`
		nulCursor := base64.RawURLEncoding.EncodeToString([]byte("2026-01-01T00:00:00Z|msg_\x00"))
		for _, tc := range []struct {
			req    req
			status int
			path   []any
		}{
			{req{method: http.MethodPost, path: "/api/v1/emails", body: `{` + from + `,"html":"x\u0000"}`}, 422, []any{"html"}},
			{req{method: http.MethodPost, path: "/api/v1/emails", body: `{` + from + `,"text":"x","metadata":{"k":"v\u0000"}}`}, 422, []any{"metadata", "k"}},
			{req{method: http.MethodPost, path: "/api/v1/emails", body: `{` + from + `,"text":"x","metadata":{"k\u0000":1}}`}, 422, []any{"metadata", "k\x00"}},
			{req{method: http.MethodPost, path: "/api/v1/emails", body: `{` + from + `,"text":"x","cc":["ok@example.com","b\u0000@example.com"]}`}, 422, []any{"cc", 1}},
			{req{method: http.MethodPost, path: "/api/v1/sms", body: `{"from":"+15551234567","to":"+15559876543","body":"a\u0000b"}`}, 422, []any{"body"}},
			{req{method: http.MethodGet, path: "/api/v1/emails?tag=%00"}, 422, []any{"tag"}},
			{req{method: http.MethodGet, path: "/api/v1/sms?cursor=" + nulCursor}, 422, []any{"cursor"}},
			{req{method: http.MethodGet, path: "/api/v1/emails/msg_%00"}, 404, nil},
			{req{method: http.MethodGet, path: "/api/v1/sms/%00"}, 404, nil},
		} {
			tc.req.key = b.live
			res := b.do(t, tc.req)
			if tc.status == 404 {
				res.requireError(t, 404, sendoka.CodeNotFound)
				continue
			}
			e := res.requireError(t, tc.status, sendoka.CodeValidation)
			require.True(t, hasField(e, sendoka.FieldInvalidString, tc.path...) || hasField(e, sendoka.FieldInvalid, tc.path...),
				"%s %s: want %q in %+v", tc.req.method, tc.req.path, tc.path, e.Errors)
		}
		// Invalid UTF-8 is not a database error either.
		require.Equal(t, http.StatusNotFound, b.do(t, req{method: http.MethodGet, path: "/api/v1/emails/msg_%ff", key: b.live}).status)
		require.Equal(t, http.StatusOK, b.do(t, req{method: http.MethodGet, path: "/api/v1/emails?tag=%ff", key: b.live}).status)
	})
}

func TestRejectNUL(t *testing.T) {
	t.Parallel()
	require.NoError(t, rejectNUL(&sendoka.EmailRequest{Subject: `literally \u0000`, Metadata: map[string]any{"a": []any{"b"}}}))
	err := rejectNUL(map[string]any{"a": []any{"ok", map[string]any{"b\x00": "c\x00"}}})
	e := sendoka.AsError(err)
	require.Equal(t, sendoka.CodeValidation, e.Code)
	require.Equal(t, []sendoka.FieldError{
		{Path: []any{"a", 1, "b\x00"}, Code: sendoka.FieldInvalidString, Message: "keys must not contain NUL characters"},
		{Path: []any{"a", 1, "b\x00"}, Code: sendoka.FieldInvalidString, Message: "must not contain NUL characters"},
	}, e.Fields)
}
