package server_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/metrics"
	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/providers/memsend"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// attemptsView is what GET /api/v1/emails/{id} and /sms/{id} say about the hand-offs.
type attemptsView struct {
	Status           string
	Provider         *string
	Attempts         int
	DeliveryAttempts []struct {
		Provider   string
		Result     string
		FailedOver bool `json:"failed_over"`
		Diagnostic *struct{ Code string }
	} `json:"delivery_attempts"`
}

// TestFailoverThroughAPI: the whole server with two email and two SMS providers, the first
// of each throttling: the API shows every message as "first throttled, second sent", each
// sent once; the metrics count the attempts per provider and result and show the first
// provider's breaker open.
func TestFailoverThroughAPI(t *testing.T) {
	t.Parallel()
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ses, smtp := memsend.New(), memsend.New()
			ses.SetName("ses")
			smtp.SetName("smtp")
			ses.Outage(sendoka.Throttled)
			reg := metrics.New(metrics.Options{CacheTTL: time.Millisecond})
			o := openObserved(t, bunstoretest.DSN(t, d), server.Config{Metrics: reg,
				EmailProviders: []sendoka.EmailProvider{{Name: "ses", Sender: ses}, {Name: "smtp", Sender: smtp}},
				SMSProviders:   []sendoka.SMSProvider{{Name: "sns", Sender: ses}, {Name: "backup", Sender: smtp}},
				Breaker:        sendoka.BreakerConfig{Failures: 2, OpenFor: time.Hour},
			})
			g := reg.Gatherer()

			get := func(path string) attemptsView {
				t.Helper()
				var v attemptsView
				poll(t, 20*time.Second, func() bool {
					status, raw := o.call(t, http.MethodGet, path, o.key, nil)
					require.Equal(t, http.StatusOK, status, string(raw))
					require.NoError(t, json.Unmarshal(raw, &v))
					return v.Status == "sent"
				}, "%s not sent", path)
				return v
			}
			var ids []string
			for range 3 {
				ids = append(ids, o.sendEmail(t, map[string]any{"to": []string{"ada@example.net"}}))
			}
			for i, id := range ids {
				v := get("/api/v1/emails/" + id)
				require.Equal(t, "smtp", *v.Provider)
				require.Len(t, v.DeliveryAttempts, 2)
				first, second := v.DeliveryAttempts[0], v.DeliveryAttempts[1]
				require.Equal(t, "ses", first.Provider)
				require.Contains(t, []string{"throttled", "skipped"}, first.Result, "message %d", i)
				require.True(t, first.FailedOver)
				require.Equal(t, "smtp", second.Provider)
				require.Equal(t, "sent", second.Result)
				require.False(t, second.FailedOver)
				require.Equal(t, 1, smtp.Count(id))
				require.Zero(t, ses.Count(id))
			}

			status, raw := o.call(t, http.MethodPost, "/api/v1/phone-numbers", o.key,
				map[string]any{"kind": "long_code", "phone_number": "+15551234567", "iso_country": "US"})
			require.Equal(t, http.StatusOK, status, string(raw))
			status, raw = o.call(t, http.MethodPost, "/api/v1/sms", o.key,
				map[string]any{"from": "+15551234567", "to": "+15559876543", "body": "Your code is 1234"})
			require.Equal(t, http.StatusOK, status, string(raw))
			var sms struct{ ID string }
			require.NoError(t, json.Unmarshal(raw, &sms))
			v := get("/api/v1/sms/" + sms.ID)
			require.Equal(t, "backup", *v.Provider)
			require.Len(t, v.DeliveryAttempts, 2)
			require.Equal(t, "sns", v.DeliveryAttempts[0].Provider)
			require.Equal(t, "throttled", v.DeliveryAttempts[0].Result)
			require.Equal(t, "backup", v.DeliveryAttempts[1].Provider)
			require.Equal(t, 2, v.Attempts, "two hand-offs reached a provider: the throttle and the send")
			require.Equal(t, 1, smtp.Count(sms.ID))

			state, ok := value(t, g, "sendoka_provider_breaker_state", map[string]string{"provider": "ses", "channel": "email"})
			require.True(t, ok)
			require.Equal(t, 2.0, state, "open")
			state, _ = value(t, g, "sendoka_provider_breaker_state", map[string]string{"provider": "smtp", "channel": "email"})
			require.Equal(t, 0.0, state, "closed")
			sent, _ := value(t, g, "sendoka_provider_attempts_total", map[string]string{"provider": "smtp", "channel": "email", "result": "sent"})
			require.Equal(t, 3.0, sent)
			throttled, _ := value(t, g, "sendoka_provider_attempts_total", map[string]string{"provider": "ses", "channel": "email", "result": "throttled"})
			skipped, _ := value(t, g, "sendoka_provider_attempts_total", map[string]string{"provider": "ses", "channel": "email", "result": "skipped"})
			require.Equal(t, 3.0, throttled+skipped)
			require.Equal(t, float64(ses.TotalCalls()-1), throttled, "every call but the SMS's was an email's")
		})
	}
}
