package httpapi

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// TestErrorStatus pins the one code table against the docs, for every code the core has.
func TestErrorStatus(t *testing.T) {
	t.Parallel()
	want := map[sendoka.Code]int{
		sendoka.CodeUnauthorized:             401,
		sendoka.CodeInsufficientScope:        403,
		sendoka.CodeIPNotAllowed:             403,
		sendoka.CodeTenantForbidden:          403,
		sendoka.CodeDomainNotAllowedForKey:   403,
		sendoka.CodeValidation:               422,
		sendoka.CodeIdempotencyMismatch:      409,
		sendoka.CodeIdempotencyInFlight:      409,
		sendoka.CodeAllSuppressed:            422,
		sendoka.CodeAttachmentTooLarge:       413,
		sendoka.CodeAudienceTooLarge:         413,
		sendoka.CodeTemplateMissingVariables: 422,
		sendoka.CodeNotScheduled:             409,
		sendoka.CodeRateLimited:              429,
		sendoka.CodeUsageLimitExceeded:       429,
		sendoka.CodeWarmupLimitExceeded:      429,
		sendoka.CodeNotFound:                 404,
		sendoka.CodeInternal:                 500,
		sendoka.CodeUnavailable:              503,
		sendoka.CodeConflict:                 409,
		sendoka.CodeProviderThrottled:        500,
		sendoka.CodeProviderTransient:        500,
		CodeMethodNotAllowed:                 405,
		CodeRequestTooLarge:                  413,
		CodeRequestTimeout:                   408,
		CodeInvalidRequest:                   400,
		CodeNotReady:                         503,
		"SOMETHING_NEW":                      500,
	}
	for _, code := range sendoka.Codes {
		require.Contains(t, want, code, "a core code without an HTTP status in this test")
	}
	wantType := map[int]string{401: TypeAuthentication, 403: TypePermission, 404: TypeNotFound, 409: TypeConflict, 429: TypeRateLimit, 500: TypeAPI, 503: TypeAPI}
	for _, code := range slices.Sorted(maps.Keys(want)) {
		status, typ := ErrorStatus(code)
		require.Equal(t, want[code], status, code)
		if wt, ok := wantType[status]; ok {
			require.Equal(t, wt, typ, code)
		}
		if status == 422 {
			require.Contains(t, []string{TypeValidation, TypeInvalidRequest}, typ, code)
		}

		e := &sendoka.Error{Code: code, Message: "secret detail", Fields: []sendoka.FieldError{{Path: []any{"to", 0}, Code: "invalid", Message: "x"}}}
		gotStatus, body := envelope(e, "req_x")
		require.Equal(t, status, gotStatus)
		require.Equal(t, "req_x", body.Error.RequestID)
		switch {
		case status == http.StatusInternalServerError:
			require.Equal(t, string(sendoka.CodeInternal), body.Error.Code, "a 500 never shows another code")
			require.Equal(t, internalMessage, body.Error.Message, "a 500 never shows the cause")
			require.Empty(t, body.Error.Errors)
		case status >= 500:
			require.Equal(t, string(code), body.Error.Code)
			require.Empty(t, body.Error.Errors)
		default:
			require.Equal(t, string(code), body.Error.Code)
			require.Equal(t, "secret detail", body.Error.Message)
			require.Equal(t, []FieldError{{Path: []any{"to", 0}, Code: "invalid", Message: "x"}}, body.Error.Errors)
		}
	}
}

func TestParseLocation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		loc  string
		want []any
	}{
		{"body", []any{}},
		{"", []any{}},
		{"body.to", []any{"to"}},
		{"body.to[3]", []any{"to", 3}},
		{"body.metadata.plan", []any{"metadata", "plan"}},
		{"body[2].to[0]", []any{2, "to", 0}},
		{"body.a[1][2]", []any{"a", 1, 2}},
		{"query.limit", []any{"limit"}},
		{"path.id", []any{"id"}},
		{"body.x[", []any{"x"}},
		{"body.x[y]", []any{"x", "y"}},
	} {
		require.Equal(t, tc.want, parseLocation(tc.loc), tc.loc)
	}
}

// TestErrorEnvelope: every class of failure, from every layer, is the docs' envelope with
// the request id of the X-Request-Id header.
func TestErrorEnvelope(t *testing.T) {
	t.Parallel()
	const secret = "db password is hunter2"
	b := setup(t, sqlite(t), setupConfig{
		opts: Options{MaxBodyBytes: 64 << 10},
		extra: func(api huma.API, mux *http.ServeMux) {
			// An operation of ours that panics, and a plain route that panics.
			opts := Options{}.withDefaults()
			r := &registrar{api: api, opts: opts, mw: huma.Middlewares{envelopeMiddleware(opts.Logger)}}
			huma.Register(api, r.op(http.MethodGet, "/test/panic", "test-panic", "Test", "panics", "panics"),
				func(ctx context.Context, _ *struct{}) (*struct{}, error) { panic(secret) })
			huma.Register(api, r.op(http.MethodGet, "/test/internal", "test-internal", "Test", "fails", "fails"),
				func(ctx context.Context, _ *struct{}) (*struct{}, error) {
					return nil, fail(ctx, errors.New(secret))
				})
			huma.Register(api, r.op(http.MethodGet, "/test/throttled", "test-throttled", "Test", "throttled", "throttled"),
				func(ctx context.Context, _ *struct{}) (*struct{}, error) {
					return nil, fail(ctx, &sendoka.Error{Code: sendoka.CodeRateLimited, Message: "slow down", RetryAfterSeconds: 7})
				})
			mux.HandleFunc("GET /test/plain-panic", func(http.ResponseWriter, *http.Request) { panic(secret) })
		},
	})
	valid := quickstart()
	with := func(k string, v any) map[string]any {
		m := maps.Clone(valid)
		m[k] = v
		return m
	}
	without := func(k string) map[string]any {
		m := maps.Clone(valid)
		delete(m, k)
		return m
	}
	post := func(body any) req {
		return req{method: http.MethodPost, path: "/api/v1/emails", key: b.live, body: body}
	}
	ctPost := func(ct, body string) req {
		return req{method: http.MethodPost, path: "/api/v1/emails", key: b.live, body: body, header: map[string]string{"Content-Type": ct}}
	}

	for _, tc := range []struct {
		name   string
		req    req
		status int
		code   sendoka.Code
		// field, when set, must be among error.errors: path then code.
		path      []any
		fieldCode string
	}{
		{"invalid address (core)", post(with("to", []string{"ok@example.com", "not-an-email"})), 422, sendoka.CodeValidation, []any{"to", 1}, sendoka.FieldInvalidString},
		{"missing required field (schema)", post(without("to")), 422, sendoka.CodeValidation, []any{"to"}, sendoka.FieldRequired},
		{"missing subject (core)", post(without("subject")), 422, sendoka.CodeValidation, []any{"subject"}, sendoka.FieldRequired},
		{"unknown field", post(with("colour", "blue")), 422, sendoka.CodeValidation, []any{"colour"}, sendoka.FieldUnrecognized},
		{"wrong type", post(with("to", "user@example.com")), 422, sendoka.CodeValidation, []any{"to"}, sendoka.FieldInvalidType},
		{"wrong item type", post(with("to", []any{"a@example.com", 7})), 422, sendoka.CodeValidation, []any{"to", 1}, sendoka.FieldInvalidType},
		{"nested metadata", post(with("metadata", map[string]any{"deep": map[string]any{"x": 1}})), 422, sendoka.CodeValidation, []any{"metadata", "deep"}, sendoka.FieldInvalidType},
		{"sms missing body", req{method: http.MethodPost, path: "/api/v1/sms", key: b.live, body: map[string]any{"to": "+15559876543"}}, 422, sendoka.CodeValidation, []any{"body"}, sendoka.FieldRequired},
		{"malformed JSON", post(`{"from": "you@sandbox.sendoka.com", "to": [`), 422, sendoka.CodeValidation, []any{}, FieldInvalidJSON},
		{"not an object", post(`[1,2,3]`), 422, sendoka.CodeValidation, []any{}, sendoka.FieldInvalidType},
		{"empty body", post(""), 422, sendoka.CodeValidation, []any{}, sendoka.FieldRequired},
		{"text/plain", ctPost("text/plain", `{"to":["a@example.com"]}`), 422, sendoka.CodeValidation, []any{}, sendoka.FieldInvalid},
		{"form", ctPost("application/x-www-form-urlencoded", "to=a@example.com"), 422, sendoka.CodeValidation, []any{}, sendoka.FieldInvalid},
		{"broken Content-Type", ctPost("a;b+json", `{}`), 422, sendoka.CodeValidation, []any{}, sendoka.FieldInvalid},
		{"body too large", post(`{"subject":"` + strings.Repeat("x", 100<<10) + `"}`), 413, CodeRequestTooLarge, nil, ""},
		{"unauthenticated", req{method: http.MethodGet, path: "/api/v1/emails"}, 401, sendoka.CodeUnauthorized, nil, ""},
		{"unknown id", req{method: http.MethodGet, path: "/api/v1/emails/msg_nope", key: b.live}, 404, sendoka.CodeNotFound, nil, ""},
		{"unknown route", req{method: http.MethodGet, path: "/api/v1/nope", key: b.live}, 404, sendoka.CodeNotFound, nil, ""},
		{"unknown route at root", req{method: http.MethodPost, path: "/", body: "{}"}, 404, sendoka.CodeNotFound, nil, ""},
		{"trailing slash", req{method: http.MethodGet, path: "/api/v1/emails/", key: b.live}, 404, sendoka.CodeNotFound, nil, ""},
		{"wrong method", req{method: http.MethodDelete, path: "/api/v1/emails", key: b.live}, 405, CodeMethodNotAllowed, nil, ""},
		{"wrong method on item", req{method: http.MethodPut, path: "/api/v1/sms/msg_1", key: b.live, body: "{}"}, 405, CodeMethodNotAllowed, nil, ""},
		{"panic in operation", req{method: http.MethodGet, path: "/test/panic"}, 500, sendoka.CodeInternal, nil, ""},
		{"panic in plain route", req{method: http.MethodGet, path: "/test/plain-panic"}, 500, sendoka.CodeInternal, nil, ""},
		{"internal error", req{method: http.MethodGet, path: "/test/internal"}, 500, sendoka.CodeInternal, nil, ""},
		{"rate limited", req{method: http.MethodGet, path: "/test/throttled"}, 429, sendoka.CodeRateLimited, nil, ""},
	} {
		res := b.do(t, tc.req)
		e := res.requireError(t, tc.status, tc.code)
		require.NotContains(t, string(res.body), "hunter2", tc.name)
		if tc.path != nil {
			require.True(t, hasField(e, tc.fieldCode, tc.path...), "%s: want %v %s in %+v", tc.name, tc.path, tc.fieldCode, e.Errors)
		} else if tc.code != sendoka.CodeValidation {
			require.Empty(t, e.Errors, tc.name)
		}
		switch tc.status {
		case 405:
			require.NotEmpty(t, res.header.Get("Allow"), tc.name)
		case 500:
			require.Equal(t, internalMessage, e.Message, tc.name)
		case 429:
			require.Equal(t, "7", res.header.Get("Retry-After"))
		}
	}

	// The docs' own example: a missing subject.
	e := b.do(t, post(without("subject"))).requireError(t, 422, sendoka.CodeValidation)
	require.Equal(t, []FieldError{{Path: []any{"subject"}, Code: sendoka.FieldRequired, Message: "Required"}}, e.Errors)
	require.Equal(t, TypeValidation, e.Type)
	// The schema reports every problem at once, and no body is echoed back.
	res := b.do(t, post(map[string]any{"to": 5, "zzz": "echo-me", "subject": 1}))
	e = res.requireError(t, 422, sendoka.CodeValidation)
	require.True(t, hasField(e, sendoka.FieldRequired, "from"), "%+v", e.Errors)
	require.True(t, hasField(e, sendoka.FieldInvalidType, "to"), "%+v", e.Errors)
	require.True(t, hasField(e, sendoka.FieldInvalidType, "subject"), "%+v", e.Errors)
	require.True(t, hasField(e, sendoka.FieldUnrecognized, "zzz"), "%+v", e.Errors)
	require.NotContains(t, string(res.body), "echo-me")
}

// TestRequestID: every response, success or not, carries a fresh req_ id.
func TestRequestID(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	ids := map[string]bool{}
	for _, r := range []req{
		{method: http.MethodGet, path: "/healthz"},
		{method: http.MethodGet, path: "/readyz"},
		{method: http.MethodGet, path: "/api/v1/openapi.json"},
		{method: http.MethodGet, path: "/api/v1/docs"},
		{method: http.MethodPost, path: "/api/v1/emails", key: b.live, body: quickstart()},
		{method: http.MethodGet, path: "/api/v1/emails", key: b.live},
		{method: http.MethodGet, path: "/nope"},
		{method: http.MethodGet, path: "/api/v1/emails", key: b.live, header: map[string]string{"X-Request-Id": "req_mine"}},
	} {
		res := b.do(t, r)
		require.Less(t, res.status, 500, r.path)
		id := res.requireRequestID(t)
		require.False(t, ids[id], "request ids are unique")
		ids[id] = true
		require.NotEqual(t, "req_mine", id, "the caller's id is not reused")
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	var body map[string]string
	b.do(t, req{method: http.MethodGet, path: "/healthz"}).decode(t, http.StatusOK, &body)
	require.Equal(t, "ok", body["status"])
	b.do(t, req{method: http.MethodGet, path: "/readyz"}).decode(t, http.StatusOK, &body)
	require.Equal(t, "ready", body["status"])

	down := errors.New("connection refused to 10.0.0.5:5432")
	notReady := newTestServer(t, New(b.client, Options{Ready: func(ctx context.Context) error {
		_, ok := ctx.Deadline()
		require.True(t, ok, "Ready gets a deadline")
		return down
	}}))
	res := doURL(t, notReady, req{method: http.MethodGet, path: "/readyz"})
	e := res.requireError(t, http.StatusServiceUnavailable, CodeNotReady)
	require.NotContains(t, string(res.body), "10.0.0.5")
	require.Equal(t, TypeAPI, e.Type)
	var health map[string]string
	doURL(t, notReady, req{method: http.MethodGet, path: "/healthz"}).decode(t, http.StatusOK, &health)

	ready := newTestServer(t, New(b.client, Options{Ready: b.db.Ping}))
	require.Equal(t, http.StatusOK, doURL(t, ready, req{method: http.MethodGet, path: "/readyz"}).status)
}
