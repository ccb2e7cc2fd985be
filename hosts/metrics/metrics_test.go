package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/metrics"
	"github.com/sendoka/sendoka/sendoka"
)

type oneQuota struct{}

func (oneQuota) QuotaUsage(context.Context) ([]sendoka.QuotaUse, error) {
	return []sendoka.QuotaUse{{OrgID: "org_1", Channel: sendoka.ChannelEmail, Used: 7, Limit: 3000}}, nil
}

// TestRegistry: with every series present, the names pass promlint and are all in Names.
func TestRegistry(t *testing.T) {
	t.Parallel()
	reg := metrics.New(metrics.Options{Version: "v9"})
	require.NoError(t, reg.WatchQuota(oneQuota{}))
	reg.MessageStatus(sendoka.ChannelEmail, sendoka.StatusQueued, "sandbox", sendoka.StreamTransactional, sendoka.ModeLive)
	reg.ProviderCall(context.Background(), "ses", sendoka.ChannelEmail, time.Now(), 30*time.Millisecond, "throttled")
	reg.HTTPRequest(http.MethodPost, "POST /api/v1/emails", 200, time.Millisecond)
	reg.HTTPRequest(http.MethodGet, "unmatched", 999, time.Millisecond)
	reg.WebhookAttempt(sendoka.WebhookSuccess, 20*time.Millisecond)
	reg.ProviderAttempt(sendoka.ChannelEmail, "ses", sendoka.AttemptThrottled)
	reg.BreakerState(sendoka.ChannelEmail, "ses", sendoka.BreakerOpen)

	families, err := reg.Gatherer().Gather()
	require.NoError(t, err)
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	require.NoError(t, err)
	require.Empty(t, problems)
	names := reg.Names()
	var ours int
	for _, f := range families {
		name := f.GetName()
		if !strings.HasPrefix(name, "sendoka_") {
			continue
		}
		ours++
		if !slices.Contains(names, name) {
			require.Contains(t, names, name+"_bucket", "histogram %s", name)
		}
	}
	require.Equal(t, 12, ours, "messages, provider calls, errors and attempts, breaker states, http requests and latency, webhook attempts and latency, quota used and limit, build info")
}

// TestProviderMetrics: attempts count per provider and result, and the breaker gauge follows
// the state.
func TestProviderMetrics(t *testing.T) {
	t.Parallel()
	reg := metrics.New(metrics.Options{})
	reg.ProviderAttempt(sendoka.ChannelEmail, "ses", sendoka.AttemptThrottled)
	reg.ProviderAttempt(sendoka.ChannelEmail, "ses", sendoka.AttemptThrottled)
	reg.ProviderAttempt(sendoka.ChannelEmail, "smtp", sendoka.AttemptSent)
	reg.BreakerState(sendoka.ChannelEmail, "ses", sendoka.BreakerOpen)
	reg.BreakerState(sendoka.ChannelEmail, "smtp", sendoka.BreakerClosed)
	reg.BreakerState(sendoka.ChannelSMS, "sns", sendoka.BreakerHalfOpen)

	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, line := range []string{
		`sendoka_provider_attempts_total{channel="email",provider="ses",result="throttled"} 2`,
		`sendoka_provider_attempts_total{channel="email",provider="smtp",result="sent"} 1`,
		`sendoka_provider_breaker_state{channel="email",provider="ses"} 2`,
		`sendoka_provider_breaker_state{channel="email",provider="smtp"} 0`,
		`sendoka_provider_breaker_state{channel="sms",provider="sns"} 1`,
	} {
		require.Contains(t, body, line)
	}
	reg.BreakerState(sendoka.ChannelEmail, "ses", sendoka.BreakerClosed)
	rec = httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Contains(t, rec.Body.String(), `sendoka_provider_breaker_state{channel="email",provider="ses"} 0`)
}

// TestHandlerWithToken: the token is required, exactly.
func TestHandlerWithToken(t *testing.T) {
	t.Parallel()
	h := metrics.New(metrics.Options{}).HandlerWithToken("s3cret")
	for auth, want := range map[string]int{"": 401, "Bearer": 401, "Bearer s3cre": 401, "Basic s3cret": 401, "Bearer s3cret": 200} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, want, rec.Code, auth)
	}
	rec := httptest.NewRecorder()
	metrics.New(metrics.Options{}).HandlerWithToken("").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, 401, rec.Code, "an empty token serves nobody")
}
