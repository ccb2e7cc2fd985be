package metrics_test

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/metrics"
	"github.com/sendoka/sendoka/sendoka"
)

type noQuota struct{}

func (noQuota) QuotaUsage(context.Context) ([]sendoka.QuotaUse, error) { return nil, nil }

// TestDashboard: the Grafana dashboard parses, and every Sendoka metric it queries exists.
func TestDashboard(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../deploy/grafana/sendoka.json")
	require.NoError(t, err)
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.Equal(t, "Sendoka", dash.Title)
	require.NotEmpty(t, dash.Panels)

	reg := metrics.New(metrics.Options{})
	require.NoError(t, reg.WatchQueue(nil, "sqlite")) // nothing is read until a scrape
	require.NoError(t, reg.WatchQuota(noQuota{}))
	names := reg.Names()
	used := map[string]bool{}
	word := regexp.MustCompile(`\bsendoka_[a-z0-9_]+`)
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			found := word.FindAllString(tg.Expr, -1)
			require.NotEmpty(t, found, "%s: %s", p.Title, tg.Expr)
			for _, n := range found {
				require.True(t, slices.Contains(names, n), "%s queries %s, which the registry does not have", p.Title, n)
				used[n] = true
			}
		}
	}
	// Every family of the registry has a panel (a histogram through any of its series).
	for _, base := range []string{"sendoka_messages_total", "sendoka_provider_call_duration_seconds_bucket",
		"sendoka_provider_errors_total", "sendoka_http_requests_total", "sendoka_http_request_duration_seconds_bucket",
		"sendoka_queue_jobs", "sendoka_queue_oldest_job_age_seconds", "sendoka_queue_job_wait_seconds_bucket",
		"sendoka_webhook_attempts_total", "sendoka_quota_used_messages", "sendoka_build_info"} {
		require.True(t, used[base], "no panel shows %s", base)
	}
}
