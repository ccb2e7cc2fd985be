package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/metrics"
	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// observed is a started server with metrics (or traces) on, over real HTTP.
type observed struct {
	srv  *server.Server
	base string
	key  string // a sok_live_ key; live mail goes to the sandbox (no live provider set)
}

func openObserved(t *testing.T, dsn string, cfg server.Config) *observed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg.DatabaseURL = dsn
	cfg.VerifiedDomains = []string{"example.com"}
	cfg.DefaultPlan = "free" // a monthly quota, for the quota gauges
	cfg.Queue = riverjobs.Config{FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond}
	cfg.Database = bunstore.Options{MaxOpenConns: bunstoretest.MaxOpenConns}
	srv, err := server.Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, srv.Close(ctx))
	})
	require.NoError(t, srv.Start(context.Background()))
	boot, err := srv.Client.Bootstrap(ctx, sendoka.BootstrapOptions{})
	require.NoError(t, err)
	o := &observed{srv: srv}
	for _, k := range boot.NewKeys {
		if strings.HasPrefix(k, sendoka.KeyPrefixLive) {
			o.key = k
		}
	}
	require.NotEmpty(t, o.key)
	hs := httptest.NewServer(srv.Handler)
	t.Cleanup(hs.Close)
	o.base = hs.URL
	return o
}

// call sends a request with auth ("" for none) and returns the status and body.
func (o *observed) call(t *testing.T, method, path, auth string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, o.base+path, rd)
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, out
}

// sendEmail sends one email through the API and returns its id.
func (o *observed) sendEmail(t *testing.T, extra map[string]any) string {
	t.Helper()
	body := map[string]any{"from": "hi@example.com", "to": []string{"delivered@sandbox.sendoka.com"}, "subject": "hi", "text": "hi"}
	for k, v := range extra {
		body[k] = v
	}
	status, raw := o.call(t, http.MethodPost, "/api/v1/emails", o.key, body)
	require.Equal(t, http.StatusOK, status, string(raw))
	var res struct{ ID string }
	require.NoError(t, json.Unmarshal(raw, &res))
	return res.ID
}

// value is the value of the series name{labels} in g (a counter's or gauge's value, a
// histogram's count), and whether it exists.
func value(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := g.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// TestMetrics: a send through the real server moves the message, provider and HTTP
// counters; the queue and quota gauges read both databases; every name passes promlint;
// the main listener serves /metrics only with the token.
func TestMetrics(t *testing.T) {
	t.Parallel()
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			reg := metrics.New(metrics.Options{Version: "v1.2.3-test", CacheTTL: time.Millisecond})
			o := openObserved(t, bunstoretest.DSN(t, d), server.Config{Metrics: reg, MetricsToken: "scrape-secret"})
			g := reg.Gatherer()
			msg := func(status string) map[string]string {
				return map[string]string{"channel": "email", "status": status, "provider": "sandbox", "stream": "transactional", "mode": "live"}
			}

			o.sendEmail(t, nil)
			poll(t, 20*time.Second, func() bool {
				v, _ := value(t, g, "sendoka_messages_total", msg("delivered"))
				return v == 1
			}, "the message delivered")
			for _, status := range []string{"queued", "sent", "delivered"} {
				v, ok := value(t, g, "sendoka_messages_total", msg(status))
				require.True(t, ok, status)
				require.Equal(t, 1.0, v, status)
			}
			_, ok := value(t, g, "sendoka_messages_total", msg("failed"))
			require.False(t, ok)
			v, _ := value(t, g, "sendoka_http_requests_total", map[string]string{"method": "POST", "route": "POST /api/v1/emails", "status": "200"})
			require.Equal(t, 1.0, v)
			v, _ = value(t, g, "sendoka_http_request_duration_seconds", map[string]string{"method": "POST", "route": "POST /api/v1/emails"})
			require.Equal(t, 1.0, v)
			v, _ = value(t, g, "sendoka_provider_call_duration_seconds", map[string]string{"provider": "sandbox", "channel": "email"})
			require.Equal(t, 1.0, v)
			poll(t, 20*time.Second, func() bool {
				v, _ := value(t, g, "sendoka_queue_job_wait_seconds", map[string]string{"queue": "sendoka", "kind": string(sendoka.JobDeliverMessage)})
				return v >= 1
			}, "the job's wait recorded")

			// A scheduled message: its job waits in the queue, and the quota counts both.
			o.sendEmail(t, map[string]any{"scheduled_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
			v, ok = value(t, g, "sendoka_queue_jobs", map[string]string{"queue": "sendoka", "kind": string(sendoka.JobDeliverMessage), "state": "scheduled"})
			require.True(t, ok)
			require.Equal(t, 1.0, v)
			v, _ = value(t, g, "sendoka_messages_total", msg("scheduled"))
			require.Equal(t, 1.0, v)
			v, ok = value(t, g, "sendoka_quota_used_messages", map[string]string{"channel": "email"})
			require.True(t, ok)
			require.GreaterOrEqual(t, v, 2.0)
			v, _ = value(t, g, "sendoka_quota_limit_messages", map[string]string{"channel": "email"})
			require.Equal(t, 3000.0, v)
			_, ok = value(t, g, "sendoka_metrics_read_errors_total", nil)
			require.False(t, ok, "the gauges read without error")
			v, _ = value(t, g, "sendoka_build_info", map[string]string{"version": "v1.2.3-test"})
			require.Equal(t, 1.0, v)

			families, err := g.Gather()
			require.NoError(t, err)
			problems, err := promlint.NewWithMetricFamilies(families).Lint()
			require.NoError(t, err)
			require.Empty(t, problems)

			status, _ := o.call(t, http.MethodGet, "/metrics", "", nil)
			require.Equal(t, http.StatusUnauthorized, status)
			status, _ = o.call(t, http.MethodGet, "/metrics", o.key, nil)
			require.Equal(t, http.StatusUnauthorized, status, "an API key is not the metrics token")
			status, body := o.call(t, http.MethodGet, "/metrics", "scrape-secret", nil)
			require.Equal(t, http.StatusOK, status)
			require.Contains(t, string(body), `sendoka_messages_total{channel="email",mode="live",provider="sandbox",status="delivered",stream="transactional"} 1`)
		})
	}
}

// TestMetricsNotOnMainListenerWithoutToken: metrics without a token are not served beside
// the API.
func TestMetricsNotOnMainListenerWithoutToken(t *testing.T) {
	t.Parallel()
	o := openObserved(t, bunstoretest.DSN(t, bunstore.DialectSQLite), server.Config{Metrics: metrics.New(metrics.Options{})})
	status, _ := o.call(t, http.MethodGet, "/metrics", "", nil)
	require.Equal(t, http.StatusNotFound, status)
}
