package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/providers/sesemail"
	"github.com/sendoka/sendoka/providers/sesemail/sesemailtest"
	"github.com/sendoka/sendoka/providers/smtpemail"
	"github.com/sendoka/sendoka/providers/smtpemail/smtpemailtest"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

func TestRoutingSettings(t *testing.T) {
	t.Parallel()
	parse := parseConfig
	log := slog.New(slog.DiscardHandler)
	smtp := []string{"-smtp-host", "smtp.example.com"}

	cfg, err := parse(t).serverConfig(log)
	require.NoError(t, err)
	require.Empty(t, cfg.EmailProviders)
	require.Empty(t, cfg.Routes)
	require.Equal(t, sendoka.BreakerConfig{Failures: 5, OpenFor: 30 * time.Second}, cfg.Breaker)

	args := append([]string{"-email-providers", "ses,smtp", "-ses-region", "eu-west-1",
		"-email-routes", "tag=receipts:smtp; tenant=ten_eu&stream=broadcast:smtp,ses",
		"-provider-breaker-failures", "3", "-provider-breaker-open-for", "2m"}, smtp...)
	cfg, err = parse(t, args...).serverConfig(log)
	require.NoError(t, err)
	require.Nil(t, cfg.Email, "the list replaces the single provider")
	require.Len(t, cfg.EmailProviders, 2)
	require.Equal(t, "ses", cfg.EmailProviders[0].Name)
	require.IsType(t, &sesemail.Sender{}, cfg.EmailProviders[0].Sender)
	require.Equal(t, "smtp", cfg.EmailProviders[1].Name)
	require.IsType(t, &smtpemail.Sender{}, cfg.EmailProviders[1].Sender)
	require.Equal(t, []sendoka.Route{
		{Channel: sendoka.ChannelEmail, Tag: "receipts", Providers: []string{"smtp"}},
		{Channel: sendoka.ChannelEmail, TenantID: "ten_eu", Stream: "broadcast", Providers: []string{"smtp", "ses"}},
	}, cfg.Routes)
	require.Equal(t, sendoka.BreakerConfig{Failures: 3, OpenFor: 2 * time.Minute}, cfg.Breaker)
	require.Equal(t, "feedback-smtp.eu-west-1.amazonses.com", cfg.Domains.MXHost, "the first provider's domain records")

	// The same routes from a JSON file; a one-provider list is the single provider.
	file := filepath.Join(t.TempDir(), "routes.json")
	require.NoError(t, os.WriteFile(file, []byte(`[{"tag":"receipts","providers":["smtp"]}]`), 0o600))
	cfg, err = parse(t, append([]string{"-email-providers", "smtp", "-email-routes", "@" + file}, smtp...)...).serverConfig(log)
	require.NoError(t, err)
	require.IsType(t, &smtpemail.Sender{}, cfg.Email)
	require.Equal(t, []sendoka.Route{{Channel: sendoka.ChannelEmail, Tag: "receipts", Providers: []string{"smtp"}}}, cfg.Routes)
	cfg, err = parse(t, "-sms-routes", `[{"stream":"transactional","providers":["sandbox"]}]`).serverConfig(log)
	require.NoError(t, err)
	require.Equal(t, []sendoka.Route{{Channel: sendoka.ChannelSMS, Stream: "transactional", Providers: []string{"sandbox"}}}, cfg.Routes)

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"-email-providers", "smtp,sandbox"}, "the sandbox delivers nothing"},
		{[]string{"-email-providers", "smtp,smtp"}, "smtp is named twice"},
		{[]string{"-email-providers", "smtp,mailgun"}, "supported: sandbox, smtp, ses"},
		{[]string{"-sms-providers", "twilio,sns"}, "supported: sandbox, sns"},
		{[]string{"-email-providers", "smtp", "-email-routes", "tag=x"}, "conditions, ':', then providers"},
		{[]string{"-email-providers", "smtp", "-email-routes", "tag=x:ses"}, `"ses" is not one of the configured providers`},
		{[]string{"-email-providers", "smtp", "-email-routes", "color=red:smtp"}, `unknown condition "color"`},
		{[]string{"-email-providers", "smtp", "-email-routes", "tag=:smtp"}, "key=value"},
		{[]string{"-email-providers", "smtp", "-email-routes", "tag=x:"}, "no providers"},
		{[]string{"-email-providers", "smtp", "-email-routes", "stream=bulk:smtp"}, `stream "bulk"`},
		{[]string{"-email-providers", "smtp", "-email-routes", `[{"tags":"x","providers":["smtp"]}]`}, "SENDOKA_EMAIL_ROUTES: a JSON list"},
		{[]string{"-email-providers", "smtp", "-email-routes", "@/nonexistent.json"}, "SENDOKA_EMAIL_ROUTES"},
		{[]string{"-email-providers", "smtp", "-email-routes", ";"}, "no route in it"},
		{[]string{"-provider-breaker-failures", "0"}, "SENDOKA_PROVIDER_BREAKER_FAILURES"},
		{[]string{"-provider-breaker-open-for", "0s"}, "SENDOKA_PROVIDER_BREAKER_OPEN_FOR"},
	} {
		_, err := parse(t, append(bad.args, smtp...)...).serverConfig(log)
		require.ErrorContains(t, err, bad.want, "%v", bad.args)
	}
}

// TestServeFailoverSESToSMTP runs `sendoka serve` with SENDOKA_EMAIL_PROVIDERS=ses,smtp, SES
// (a fake of its wire protocol) throttling and a real SMTP server behind: every message
// arrives over SMTP once, the API shows "ses throttled, then smtp sent", and after two
// throttles the breaker skips SES. On SQLite, and on Postgres when configured.
func TestServeFailoverSESToSMTP(t *testing.T) {
	// AWS's default credential chain reads the environment: no t.Parallel with t.Setenv.
	t.Setenv("AWS_ACCESS_KEY_ID", sesemailtest.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			ses := sesemailtest.Start(t)
			var calls atomic.Int64
			ses.FailWith(func(context.Context, sesemailtest.Request) *sesemailtest.Failure {
				calls.Add(1)
				return &sesemailtest.Failure{Status: http.StatusTooManyRequests, Type: "TooManyRequestsException", Message: "Maximum sending rate exceeded."}
			})
			relay := smtpemailtest.Start(t, smtpemailtest.Options{})
			live := liveKey("failover")
			args := []string{
				"-data-dir", t.TempDir(), "-bootstrap-keys", live, "-bootstrap-domains", "acme.test",
				"-email-providers", "ses,smtp", "-ses-region", sesemailtest.Region, "-ses-endpoint", ses.URL,
				"-smtp-host", relay.Host, "-smtp-port", strconv.Itoa(relay.Port), "-smtp-security", "none",
				"-provider-breaker-failures", "2", "-provider-breaker-open-for", "1h", "-public-url", "off",
			}
			if d == "postgres" {
				args = append(args, "-database-url", bunstoretest.DSN(t, d))
			}
			srv := startServe(t, args...)

			// One message after the other: the first two find SES throttling, which opens
			// its breaker; the next two skip it.
			var results []string
			var callsAfter []int64
			for i := range 4 {
				status, body := srv.do(t, http.MethodPost, "/api/v1/emails", live, map[string]any{
					"from": "hello@acme.test", "to": []string{"ada@example.com"}, "subject": "Hi " + strconv.Itoa(i), "text": "Hello"})
				require.Equal(t, http.StatusOK, status, "%v", body)
				id := body["id"].(string)
				var msg map[string]any
				pollUntil(t, 20*time.Second, func() bool {
					_, msg = srv.do(t, http.MethodGet, "/api/v1/emails/"+id, live, nil)
					return msg["status"] == "sent"
				}, "message %s not sent: %v", id, msg)
				require.Equal(t, "smtp", msg["provider"])
				attempts := msg["delivery_attempts"].([]any)
				require.Len(t, attempts, 2)
				first, second := attempts[0].(map[string]any), attempts[1].(map[string]any)
				require.Equal(t, "ses", first["provider"])
				require.Equal(t, true, first["failed_over"])
				results = append(results, first["result"].(string))
				require.Equal(t, "smtp", second["provider"])
				require.Equal(t, "sent", second["result"])
				n := 0
				for _, m := range relay.Messages() {
					if strings.HasPrefix(m.MessageID, id+"@") {
						n++
					}
				}
				require.Equal(t, 1, n, "message %s arrived once over SMTP", id)
				callsAfter = append(callsAfter, calls.Load())
			}
			require.Equal(t, []string{"throttled", "throttled", "skipped", "skipped"}, results)
			require.Empty(t, ses.Requests(), "SES took nothing")
			require.Positive(t, callsAfter[0])
			require.Equal(t, callsAfter[1], callsAfter[3], "a skipped provider is never called")
		})
	}
}

// FuzzParseRoutes: any value either parses into routes that name only configured providers
// and a known stream, or fails with an error that names the variable; it never panics.
func FuzzParseRoutes(f *testing.F) {
	f.Add("tag=receipts:smtp")
	f.Add(`[{"providers":["ses","smtp"]}]`)
	names := []string{"ses", "smtp"}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.HasPrefix(strings.TrimSpace(s), "@") {
			return // a file name: not the parser's input
		}
		routes, err := parseRoutes("SENDOKA_EMAIL_ROUTES", s, sendoka.ChannelEmail, names)
		if err != nil {
			require.Contains(t, err.Error(), "SENDOKA_EMAIL_ROUTES")
			require.Nil(t, routes)
			return
		}
		for _, r := range routes {
			require.Equal(t, sendoka.ChannelEmail, r.Channel)
			require.NotEmpty(t, r.Providers)
			for _, p := range r.Providers {
				require.Contains(t, names, p)
			}
			require.Contains(t, []string{"", sendoka.StreamTransactional, sendoka.StreamBroadcast}, r.Stream)
		}
	})
}
