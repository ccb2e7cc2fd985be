package sandbox_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/hosts/server"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestThroughTheCore sends test-key messages to magic recipients through the real Sendoka
// (River workers, SQLite, and Postgres when configured) and checks where each one ends: the
// core records sent, then applies the sandbox's simulated outcome.
func TestThroughTheCore(t *testing.T) {
	t.Parallel()
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			srv, err := server.Open(ctx, server.Config{DatabaseURL: bunstoretest.DSN(t, d)})
			require.NoError(t, err)
			t.Cleanup(func() { _ = srv.Close(context.Background()) })
			require.NoError(t, srv.Start(ctx))
			boot, err := srv.Client.Bootstrap(ctx, sendoka.BootstrapOptions{})
			require.NoError(t, err)
			p := sendoka.SystemPrincipal(boot.Org.ID, sendoka.ModeTest)
			_, err = srv.Client.CreatePhoneNumber(ctx, p, &sendoka.PhoneNumberRequest{
				Kind: sendoka.SenderLongCode, PhoneNumber: "+15555550100", ISOCountry: "US",
			})
			require.NoError(t, err)

			type want struct {
				status sendoka.Status
				code   string
				event  sendoka.EventType // the outcome event, besides queued and sent
			}
			emails := map[string]want{
				"delivered@sandbox.sendoka.com":       {sendoka.StatusDelivered, "", sendoka.EventDelivered},
				"bounced+core@sandbox.sendoka.com":    {sendoka.StatusBounced, "550 5.1.1", sendoka.EventBounced},
				"suppressed@sandbox.sendoka.com":      {sendoka.StatusBounced, "suppressed", sendoka.EventBounced},
				"bounce@simulator.amazonses.com":      {sendoka.StatusBounced, "550 5.1.1", sendoka.EventBounced},
				"anyone@example.com":                  {sendoka.StatusDelivered, "", sendoka.EventDelivered},
				"complained+core@sandbox.sendoka.com": {"", "", sendoka.EventFailed},
			}
			sms := map[string]want{
				"+15005550001": {sendoka.StatusDelivered, "", sendoka.EventDelivered},
				"+15005550002": {sendoka.StatusFailed, "30003", sendoka.EventFailed},
				"+15005550003": {sendoka.StatusBounced, "30005", sendoka.EventBounced},
			}
			ids := map[string]want{}
			channel := map[string]sendoka.Channel{}
			for to, w := range emails {
				m, err := srv.Client.SendEmail(ctx, p, &sendoka.EmailRequest{
					From: "App <app@sandbox.sendoka.com>", To: []string{to}, Subject: "Sandbox", Text: "Hello",
				})
				require.NoError(t, err, to)
				ids[m.ID], channel[m.ID] = w, sendoka.ChannelEmail
			}
			for to, w := range sms {
				m, err := srv.Client.SendSMS(ctx, p, &sendoka.SMSRequest{From: "+15555550100", To: to, Body: "Hello"})
				require.NoError(t, err, to)
				ids[m.ID], channel[m.ID] = w, sendoka.ChannelSMS
			}

			for id, w := range ids {
				var m *sendoka.Message
				// Poll until the message is done and its outcome event is on the timeline.
				// (GetMessage reads the message and its events one after the other, so
				// one read may show either without the other.)
				require.Eventually(t, func() bool {
					m, err = srv.Client.GetMessage(ctx, p, channel[id], id)
					return err == nil && m.Status.Terminal() &&
						slices.ContainsFunc(m.Events, func(e sendoka.Event) bool { return e.Type == w.event })
				}, 30*time.Second, 20*time.Millisecond, "message %s never got its %s event", id, w.event)
				require.NoError(t, err)

				require.Equal(t, "sandbox", m.Provider)
				require.Regexp(t, `^sbx_`, m.ProviderMessageID)
				require.True(t, slices.ContainsFunc(m.Events, func(e sendoka.Event) bool { return e.Type == sendoka.EventSent }))
				if w.status == "" {
					// complained@: delivered and a complaint are two reports; which the core
					// applies first decides the status, and both are recorded.
					require.True(t, slices.ContainsFunc(m.Events, func(e sendoka.Event) bool { return e.Type == sendoka.EventDelivered }))
					require.Contains(t, []sendoka.Status{sendoka.StatusDelivered, sendoka.StatusFailed}, m.Status)
					continue
				}
				require.Equal(t, w.status, m.Status, "message %s", id)
				if w.code != "" {
					require.NotNil(t, m.Diagnostic)
					require.Equal(t, "sandbox", m.Diagnostic.Provider)
					require.Equal(t, w.code, m.Diagnostic.Code)
				}
			}
		})
	}
}
