package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// Regressions found by the hostile run (go run ./hostile): each was an answer outside the
// docs' promises.

// TestBrokenChunkedBodyIs400: a body whose chunked framing is broken was a 500; it is the
// client's malformed request, 400 INVALID_REQUEST in the envelope, with or without an
// Idempotency-Key (whose middleware reads the body first).
func TestBrokenChunkedBodyIs400(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{opts: Options{BodyReadTimeout: bodyTimeout}})
	for _, tc := range []struct{ name, path, extra, chunks string }{
		{"bad size", "/api/v1/audiences", "", "zz\r\n{}\r\n0\r\n\r\n"},
		{"missing CRLF", "/api/v1/emails", "", "2\r\n{}0\r\n\r\n"},
		{"negative size", "/api/v1/templates", "", "-1\r\n{}\r\n0\r\n\r\n"},
		{"with an idempotency key", "/api/v1/emails", "Idempotency-Key: chunked-1\r\n", "zz\r\n{}\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, b)
			c.send(t, "POST "+tc.path+" HTTP/1.1\r\nHost: sendoka.test\r\nAuthorization: Bearer "+b.live+
				"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"+tc.extra+"Connection: close\r\n\r\n"+tc.chunks)
			res, body := c.response(t)
			require.Equal(t, http.StatusBadRequest, res.StatusCode, "%s", body)
			requireEnvelope(t, body)
			var env ErrorResponse
			require.NoError(t, json.Unmarshal(body, &env))
			require.Equal(t, string(CodeInvalidRequest), env.Error.Code)
			require.Equal(t, res.Header.Get(headerRequestID), env.Error.RequestID)
		})
	}
}

// TestDeeplyNestedBodyNamesTheProblem: a value nested just under encoding/json's limit
// (10,000 levels) was a VALIDATION_ERROR with an empty errors[], Huma's echo of the value
// being too deep to decode; the field is named.
func TestDeeplyNestedBodyNamesTheProblem(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	for _, nested := range []string{strings.Repeat("[", 9998) + strings.Repeat("]", 9998),
		strings.Repeat(`{"a":`, 9998) + "1" + strings.Repeat("}", 9998)} {
		res := b.do(t, req{method: http.MethodPost, path: "/api/v1/audiences", key: b.live,
			body: `{"name":"x","metadata":` + nested + `}`})
		e := res.requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		require.NotEmpty(t, e.Errors)
		require.Equal(t, []any{"metadata"}, e.Errors[0].Path)
	}
}

// TestNonCanonicalPathIs404: a path with a "." or ".." segment or an empty one was
// redirected (307, without X-Request-Id, or 301) to its cleaned form, by the API's mux and
// by the dashboard's in front of it; it is 404 NOT_FOUND in the envelope, never a redirect.
func TestNonCanonicalPathIs404(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	tpl := b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: b.live,
		body: map[string]any{"channel": "email", "slug": "canon", "subject": "s", "html": "<p>x</p>"}})
	require.Equal(t, http.StatusOK, tpl.status, "%s", tpl.body)
	for _, p := range []string{"/api/v1/templates/.", "/api/v1/templates/x/../canon", "/api/v1//templates/canon",
		"/api/v1/templates/canon/.", "/t/o/../..", "/api/v1/./org"} {
		for _, method := range []string{http.MethodGet, http.MethodDelete} {
			c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			hr, err := http.NewRequest(method, b.server.URL+p, nil)
			require.NoError(t, err)
			hr.URL.Opaque = p // sent as written: no client-side cleaning
			hr.Header.Set("Authorization", "Bearer "+b.live)
			res, err := c.Do(hr)
			require.NoError(t, err)
			var env ErrorResponse
			require.NoError(t, json.NewDecoder(res.Body).Decode(&env))
			res.Body.Close()
			require.Equal(t, http.StatusNotFound, res.StatusCode, "%s %s", method, p)
			require.Empty(t, res.Header.Get("Location"))
			require.Equal(t, string(sendoka.CodeNotFound), env.Error.Code)
			require.Equal(t, res.Header.Get(headerRequestID), env.Error.RequestID)
		}
	}
	still := b.do(t, req{method: http.MethodGet, path: "/api/v1/templates/canon", key: b.live})
	require.Equal(t, http.StatusOK, still.status, "the DELETEs to cleaned-up paths removed nothing")
}

// TestLongUnsubscribeTokenIs404: a token too long to be one was 422 (a maxLength on the
// parameter); the route documents 404 for anything that is not a valid token.
func TestLongUnsubscribeTokenIs404(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		res := b.do(t, req{method: method, path: "/u/" + strings.Repeat("A", 300)})
		res.requireError(t, http.StatusNotFound, sendoka.CodeNotFound)
	}
}

// TestOperationsDocumentTheirTransportErrors: every operation documents the errors any
// operation of its shape can answer (a key: 401, 403 and 429; a body: 400, 408, 413 and
// 422; an id in its path: 404), in the schema of its other errors.
func TestOperationsDocumentTheirTransportErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	res := b.do(t, req{method: http.MethodGet, path: "/api/v1/openapi.json"})
	require.Equal(t, http.StatusOK, res.status)
	var doc struct {
		Paths map[string]map[string]struct {
			Security    []map[string][]string `json:"security"`
			RequestBody *json.RawMessage      `json:"requestBody"`
			Responses   map[string]struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(res.body, &doc))
	n := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			var want []int
			if len(op.Security) > 0 {
				want = append(want, 401, 403, 429)
			}
			if op.RequestBody != nil {
				want = append(want, 400, 408, 413, 422)
			}
			if strings.Contains(path, "{") {
				want = append(want, 404)
			}
			schema := ""
			for _, status := range want {
				r, ok := op.Responses[strconv.Itoa(status)]
				require.True(t, ok, "%s %s documents no %d", method, path, status)
				ref := r.Content["application/json"].Schema.Ref
				if schema == "" {
					schema = ref
				}
				require.Equal(t, schema, ref, "%s %s: %d", method, path, status)
				n++
			}
			if strings.HasPrefix(path, "/resend/") && schema != "" {
				require.Equal(t, "#/components/schemas/ResendError", schema, fmt.Sprintf("%s %s", method, path))
			}
		}
	}
	require.Greater(t, n, 300)
}

// TestDocumentSaysWhatCanBeNull: answer fields that are null when empty (a message's
// diagnostic, a batch row's error, a contact's data) were documented as plain objects, so
// a strict client failed on the answers; they are anyOf [$ref, null] or object|null. Request
// schemas keep refusing null.
func TestDocumentSaysWhatCanBeNull(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	res := b.do(t, req{method: http.MethodGet, path: "/api/v1/openapi.json"})
	require.Equal(t, http.StatusOK, res.status)
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Ref   string `json:"$ref"`
					Type  any    `json:"type"`
					AnyOf []struct {
						Ref  string `json:"$ref"`
						Type string `json:"type"`
					} `json:"anyOf"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(res.body, &doc))
	s := doc.Components.Schemas
	for _, sp := range [][2]string{{"EmailMessage", "diagnostic"}, {"SMSMessage", "diagnostic"}, {"BatchRow", "error"},
		{"MessageEvent", "diagnostic"}} {
		p := s[sp[0]].Properties[sp[1]]
		require.Len(t, p.AnyOf, 2, "%s.%s", sp[0], sp[1])
		require.NotEmpty(t, p.AnyOf[0].Ref, "%s.%s", sp[0], sp[1])
		require.Equal(t, "null", p.AnyOf[1].Type, "%s.%s", sp[0], sp[1])
	}
	require.Equal(t, []any{"object", "null"}, s["Contact"].Properties["data"].Type)
	require.Equal(t, "object", s["EmailRequest"].Properties["headers"].Type, "a request's map stays non-null")
	require.Equal(t, "object", s["EmailRequest"].Properties["metadata"].Type)
}

// TestBatchNumberOutOfRange: a number beyond float64's range (1e999) is valid JSON that does
// not decode; in a batch it was a 500 (bulk shape) or a row failed with INTERNAL_ERROR
// (per-item shape). It is the row's, or the call's, VALIDATION_ERROR.
func TestBatchNumberOutOfRange(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	for _, path := range []string{"/api/v1/emails/batch", "/api/v1/sms/batch"} {
		for _, body := range []string{`{"to":["a@example.com",1e999]}`, `{"to":1e999}`} {
			b.do(t, req{method: http.MethodPost, path: path, key: b.live, body: body}).
				requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
		}
	}
	res := b.do(t, req{method: http.MethodPost, path: "/api/v1/emails/batch", key: b.live,
		body: `[{"from":"a@sandbox.sendoka.com","to":["b@example.com"],"subject":"s","text":"t"},1e999,{"to":-1e999}]`})
	var out BatchResponse
	res.decode(t, http.StatusOK, &out)
	require.Equal(t, 1, out.Succeeded)
	for _, row := range out.Data[1:] {
		require.NotNil(t, row.Error)
		require.Equal(t, string(sendoka.CodeValidation), row.Error.Code)
	}
}

// TestTemplateAmplificationIsRefused: a template that repeats a variable 100,000 times,
// previewed or sent with a value of 10 KB, would render to 1 GB; rendering stops past the
// largest field a message may have, and the call is a 422 at the field.
func TestTemplateAmplificationIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	html := strings.Repeat("{{a}}", 100000) // 500 KB: a template may have 512 KiB
	big := strings.Repeat("x", 10<<10)
	e := b.do(t, req{method: http.MethodPost, path: "/api/v1/templates/preview", key: b.live,
		body: map[string]any{"channel": "email", "subject": "s", "html": html, "variables": map[string]any{"a": big}}}).
		requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
	require.True(t, hasField(e, sendoka.FieldTooBig, "html"), "%+v", e)

	b.do(t, req{method: http.MethodPost, path: "/api/v1/templates", key: b.live,
		body: map[string]any{"channel": "email", "slug": "amplify", "subject": "s", "html": html}}).decode(t, http.StatusOK, &Template{})
	e = b.do(t, req{method: http.MethodPost, path: "/api/v1/emails", key: b.live,
		body: map[string]any{"from": "a@sandbox.sendoka.com", "to": []string{"b@example.com"}, "template": "amplify",
			"variables": map[string]any{"a": big}}}).requireError(t, http.StatusUnprocessableEntity, sendoka.CodeValidation)
	require.True(t, hasField(e, sendoka.FieldTooBig, "html"), "%+v", e)
}
