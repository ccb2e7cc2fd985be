package main

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestServeMetrics: -metrics-addr serves /metrics on its own listener, and -metrics-token
// guards both it and /metrics on the API's listener.
func TestServeMetrics(t *testing.T) {
	t.Parallel()
	maddr := freeAddr(t)
	r := startServe(t, "-data-dir", t.TempDir(), "-metrics-addr", maddr, "-metrics-token", "scrape-secret")
	get := func(url, token string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}
	for _, base := range []string{r.base, "http://" + maddr} {
		status, _ := get(base+"/metrics", "")
		require.Equal(t, http.StatusUnauthorized, status, base)
		status, body := get(base+"/metrics", "scrape-secret")
		require.Equal(t, http.StatusOK, status, base)
		require.Contains(t, body, `sendoka_build_info{goversion=`)
	}
	_, body := get(r.base+"/metrics", "scrape-secret")
	require.Contains(t, body, `sendoka_http_requests_total{method="GET",route="GET /readyz",status="200"}`)
}

// TestServeWithoutMetrics: no metrics setting, no /metrics.
func TestServeWithoutMetrics(t *testing.T) {
	t.Parallel()
	r := startServe(t, "-data-dir", t.TempDir())
	res, err := http.Get(r.base + "/metrics")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// TestTracerProvider: tracing is off unless the OTEL_* variables ask for OTLP.
func TestTracerProvider(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		env     map[string]string
		on      bool
		wantErr string
	}{
		{env: map[string]string{}},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}},
		{env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, on: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, on: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: "otlp"},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, wantErr: "http/protobuf"},
	} {
		for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
			t.Setenv(k, tc.env[k])
		}
		tp, stop, err := tracerProvider(ctx, "test")
		if tc.wantErr != "" {
			require.ErrorContains(t, err, tc.wantErr, tc.env)
			continue
		}
		require.NoError(t, err, tc.env)
		require.Equal(t, tc.on, tp != nil, tc.env)
		require.NoError(t, stop(ctx))
	}
}
