package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// TestUnavailableResponse: CodeUnavailable is a 503 envelope with its own code, the store's
// message (never the cause) and a Retry-After, from an operation and from a plain route.
func TestUnavailableResponse(t *testing.T) {
	t.Parallel()
	const secret = "dial tcp 10.0.0.5:5432: connection refused"
	unavailable := func(retry int) *sendoka.Error {
		return &sendoka.Error{Code: sendoka.CodeUnavailable, Message: "database unavailable; retry",
			RetryAfterSeconds: retry, Err: errors.New(secret)}
	}
	b := setup(t, sqlite(t), setupConfig{
		extra: func(api huma.API, mux *http.ServeMux) {
			opts := Options{}.withDefaults()
			r := &registrar{api: api, opts: opts, mw: huma.Middlewares{envelopeMiddleware(opts.Logger)}}
			huma.Register(api, r.op(http.MethodGet, "/test/unavailable", "test-unavailable", "Test", "down", "down"),
				func(ctx context.Context, _ *struct{}) (*struct{}, error) { return nil, fail(ctx, unavailable(5)) })
			huma.Register(api, r.op(http.MethodGet, "/test/unavailable-no-hint", "test-unavailable-no-hint", "Test", "down", "down"),
				func(ctx context.Context, _ *struct{}) (*struct{}, error) { return nil, fail(ctx, unavailable(0)) })
			mux.HandleFunc("GET /test/plain-unavailable", func(w http.ResponseWriter, r *http.Request) {
				writeEnvelope(w, unavailable(3), RequestIDFrom(r.Context()))
			})
		},
	})
	for path, retry := range map[string]string{"/test/unavailable": "5", "/test/unavailable-no-hint": "1", "/test/plain-unavailable": "3"} {
		res := b.do(t, req{method: http.MethodGet, path: path})
		e := res.requireError(t, http.StatusServiceUnavailable, sendoka.CodeUnavailable)
		require.Equal(t, "SERVICE_UNAVAILABLE", e.Code)
		require.Equal(t, TypeAPI, e.Type)
		require.Equal(t, "database unavailable; retry", e.Message, path)
		require.Empty(t, e.Errors)
		require.Equal(t, retry, res.header.Get("Retry-After"), path)
		require.NotContains(t, string(res.body), "10.0.0.5", path)
	}

	// The OpenAPI document lists the 503 of every operation.
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `json:"responses"`
		} `json:"paths"`
	}
	b.do(t, reqGet("/api/v1/openapi.json")).decode(t, http.StatusOK, &doc)
	require.Contains(t, doc.Paths["/api/v1/emails"]["post"].Responses, "503")
	require.Contains(t, doc.Paths["/api/v1/emails/{id}"]["get"].Responses, "503")
}

// TestReadyBounded: /readyz answers within a second even when Ready does not return at all,
// and /healthz never asks it.
func TestReadyBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, sqlite(t), setupConfig{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	deadlines := make(chan time.Duration, 10)
	for name, ready := range map[string]func(ctx context.Context) error{
		"ignores its context": func(ctx context.Context) error { <-release; return nil },
		"honours its context": func(ctx context.Context) error {
			d, _ := ctx.Deadline()
			deadlines <- time.Until(d)
			<-ctx.Done()
			return ctx.Err()
		},
	} {
		t.Run(name, func(t *testing.T) { // not parallel: the deadline check below follows them
			base := newTestServer(t, New(b.client, Options{Ready: ready}))
			start := time.Now()
			doURL(t, base, reqGet("/readyz")).requireError(t, http.StatusServiceUnavailable, CodeNotReady)
			require.Less(t, time.Since(start), time.Second)
			start = time.Now()
			require.Equal(t, http.StatusOK, doURL(t, base, reqGet("/healthz")).status)
			require.Less(t, time.Since(start), 500*time.Millisecond)
		})
	}
	// Ready ran before /readyz answered, so its deadline is there by now.
	select {
	case d := <-deadlines:
		require.LessOrEqual(t, d, DefaultReadyTimeout)
	default:
		t.Fatal("Ready was not called")
	}
}

// TestDatabaseDeadline: an operation's handler gets a context whose deadline is the rest of
// the request's database budget, counted from when the handler starts; none when the
// budget is negative.
func TestDatabaseDeadline(t *testing.T) {
	t.Parallel()
	type out struct {
		Body struct {
			HasDeadline bool          `json:"has_deadline"`
			Left        time.Duration `json:"left"`
		}
	}
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		want    bool
	}{
		{"default", 0, true},
		{"an hour", time.Hour, true},
		{"off", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sqlite(t), setupConfig{
				extra: func(api huma.API, mux *http.ServeMux) {
					opts := Options{DatabaseTimeout: tc.timeout}.withDefaults()
					r := &registrar{api: api, opts: opts, mw: huma.Middlewares{envelopeMiddleware(opts.Logger), deadlineMiddleware(opts)}}
					huma.Register(api, r.op(http.MethodPost, "/test/deadline", "test-deadline", "Test", "deadline", "deadline"),
						func(ctx context.Context, in *struct{ Body map[string]any }) (*out, error) {
							var o out
							d, ok := ctx.Deadline()
							o.Body.HasDeadline, o.Body.Left = ok, time.Until(d)
							return &o, nil
						})
				},
			})
			start := time.Now()
			var got struct {
				HasDeadline bool          `json:"has_deadline"`
				Left        time.Duration `json:"left"`
			}
			b.do(t, req{method: http.MethodPost, path: "/test/deadline", body: map[string]any{"x": 1}}).decode(t, http.StatusOK, &got)
			require.Equal(t, tc.want, got.HasDeadline)
			if !tc.want {
				return
			}
			budget := tc.timeout
			if budget == 0 {
				budget = DefaultDatabaseTimeout
			}
			require.LessOrEqual(t, got.Left, budget)
			require.Greater(t, got.Left, budget-time.Since(start), "the whole budget, less the time this request took")
		})
	}
}

// TestDBBudget: the spans of one request draw on one budget.
func TestDBBudget(t *testing.T) {
	t.Parallel()
	b := newDBBudget(time.Hour)
	ctx, end := b.span(context.Background())
	d, ok := ctx.Deadline()
	require.True(t, ok)
	require.WithinDuration(t, time.Now().Add(time.Hour), d, time.Second)
	end()
	require.Error(t, ctx.Err(), "a span's context ends with it")
	require.Less(t, b.left, time.Hour, "the span was charged")

	spent := newDBBudget(0)
	ctx, end = spent.span(context.Background())
	defer end()
	require.ErrorIs(t, ctx.Err(), context.DeadlineExceeded, "a spent budget is an expired context")

	w := httptest.NewRecorder()
	writeEnvelope(w, &sendoka.Error{Code: sendoka.CodeUnavailable, Message: "database unavailable; retry"}, "req_x")
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "1", w.Header().Get("Retry-After"), "SERVICE_UNAVAILABLE always says when to retry")
}
