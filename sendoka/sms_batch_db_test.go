package sendoka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// registerSender registers the alphanumeric sender "Acme" for GB, active at once.
func (b *dbBundle) registerSender(t *testing.T) {
	t.Helper()
	_, err := b.client.CreatePhoneNumber(context.Background(), b.p, &sendoka.PhoneNumberRequest{
		Kind: sendoka.SenderAlphanumeric, SenderID: "Acme", ISOCountry: "GB",
	})
	require.NoError(t, err)
}

// gbNumber returns the i-th of a range of possible UK mobile numbers.
func gbNumber(i int) string { return fmt.Sprintf("+4477009%05d", i) }

// TestSMSTemplatesScheduleAndBatch covers the SMS side of templates, scheduled sends and
// both batch shapes.
func TestSMSTemplatesScheduleAndBatch(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		b.registerSender(t)
		_, err := b.client.CreateTemplate(ctx, b.p, &sendoka.TemplateRequest{Slug: "code", Channel: sendoka.ChannelSMS, Body: "Your code is {{code}}, {{user.name}} <3"})
		require.NoError(t, err)

		// Template: the body is rendered raw; an email template is refused.
		m, err := b.client.SendSMS(ctx, b.p, &sendoka.SMSRequest{From: "Acme", To: gbNumber(1), Template: "code",
			Variables: map[string]any{"code": 1234.0, "user": map[string]any{"name": "<Ann>"}}})
		require.NoError(t, err)
		require.Equal(t, "Your code is 1234, <Ann> <3", b.get(t, sendoka.ChannelSMS, m.ID).SMS.Body)
		_, err = b.client.SendSMS(ctx, b.p, &sendoka.SMSRequest{From: "Acme", To: gbNumber(1), Template: "code"})
		e := requireCode(t, sendoka.CodeTemplateMissingVariables, err)
		require.Equal(t, [][]any{{"variables", "code"}, {"variables", "user", "name"}}, paths(e))
		_, err = b.client.CreateTemplate(ctx, b.p, &sendoka.TemplateRequest{Slug: "mail", Channel: sendoka.ChannelEmail, Text: "x"})
		require.NoError(t, err)
		_, err = b.client.SendSMS(ctx, b.p, &sendoka.SMSRequest{From: "Acme", To: gbNumber(1), Template: "mail"})
		require.Equal(t, [][]any{{"template"}}, paths(requireCode(t, sendoka.CodeValidation, err)))

		// Scheduled with recipient-timezone rules, then canceled; the email endpoint does not
		// know it.
		s, err := b.client.SendSMS(ctx, b.p, &sendoka.SMSRequest{From: "Acme", To: gbNumber(2), Body: "Morning!",
			ScheduleRequest: sendoka.ScheduleRequest{ScheduledLocal: "08:30", ScheduledAtTZ: "Europe/London"}})
		require.NoError(t, err)
		require.Equal(t, sendoka.StatusScheduled, s.Status)
		london, err := time.LoadLocation("Europe/London")
		require.NoError(t, err)
		require.Equal(t, "08:30", s.ScheduledAt.In(london).Format("15:04"))
		_, err = b.client.CancelMessage(ctx, b.p, sendoka.ChannelEmail, s.ID)
		requireCode(t, sendoka.CodeNotFound, err)
		_, err = b.client.CancelMessage(ctx, b.p, sendoka.ChannelSMS, s.ID)
		require.NoError(t, err)
		require.Equal(t, sendoka.StatusCanceled, b.get(t, sendoka.ChannelSMS, s.ID).Status)
		_, err = b.client.SendSMS(ctx, b.p, &sendoka.SMSRequest{From: "Acme", To: gbNumber(2), Body: "x",
			ScheduleRequest: sendoka.ScheduleRequest{ScheduledAt: b.clock.in(time.Hour), ScheduledLocal: "08:30", ScheduledAtTZ: "Europe/London"}})
		require.Equal(t, [][]any{{"scheduled_at"}}, paths(requireCode(t, sendoka.CodeValidation, err)))

		// Per-item batch: rows fail on their own.
		res, err := b.client.SendSMSBatch(ctx, b.p, []*sendoka.SMSRequest{
			{From: "Acme", To: gbNumber(3), Body: "Personalized 1", Tags: []string{"promo"}},
			{From: "Acme", To: "not-a-number", Body: "Personalized 2"},
			{From: "Acme", To: gbNumber(4), Template: "code", Variables: map[string]any{"code": "9", "user": map[string]any{"name": "Bo"}},
				ScheduleRequest: sendoka.ScheduleRequest{ScheduledAt: b.clock.in(time.Hour)}},
		})
		require.NoError(t, err)
		require.Equal(t, 2, res.Succeeded)
		require.Equal(t, 1, res.Failed)
		require.Equal(t, [][]any{{"to"}}, paths(res.Rows[1].Err))
		third := b.get(t, sendoka.ChannelSMS, res.Rows[2].Message.ID)
		require.Equal(t, "Your code is 9, Bo <3", third.SMS.Body)
		require.Equal(t, sendoka.StatusScheduled, third.Status)

		// Bulk: one SMS per number; a bad number fails its own row only.
		to := make([]string, 50)
		for i := range to {
			to[i] = gbNumber(100 + i)
		}
		to[7] = "+44"
		res, err = b.client.SendSMSBulk(ctx, b.p, to, &sendoka.SMSRequest{From: "Acme", Body: "Hello all"})
		require.NoError(t, err)
		require.Equal(t, 49, res.Succeeded)
		require.Equal(t, [][]any{{"to", 7}}, paths(res.Rows[7].Err))
		for i, row := range res.Rows {
			if i != 7 {
				require.Equal(t, to[i], row.Message.SMS.To)
			}
		}
		_, err = b.client.SendSMSBulk(ctx, b.p, append(append(to, to...), to...)[:sendoka.MaxBatch+1], &sendoka.SMSRequest{From: "Acme", Body: "x"})
		requireCode(t, sendoka.CodeValidation, err)
		_, err = b.client.SendSMSBulk(ctx, b.p, to, &sendoka.SMSRequest{From: "Acme", To: gbNumber(1), Body: "x"})
		requireCode(t, sendoka.CodeValidation, err)
		_, err = b.client.SendSMSBatch(ctx, b.p, nil)
		requireCode(t, sendoka.CodeValidation, err)
	})
}
