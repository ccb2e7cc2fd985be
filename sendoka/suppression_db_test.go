package sendoka_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestSuppressionExpiryAndHistory: an expired suppression no longer suppresses (at
// acceptance and at delivery), a new bounce suppresses the address afresh, and lifting a
// suppression keeps it in the history with who lifted it and when.
func TestSuppressionExpiryAndHistory(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		live := sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive)
		live.KeyID = "key_admin"

		expires := b.clock.at(time.Hour)
		res, err := b.client.AddSuppressions(ctx, live, []sendoka.SuppressionInput{
			{Address: "Temp@Example.com", Reason: "unsubscribe", ExpiresAt: &expires},
			{Address: "+15551230001", Reason: "stop"},
			{Address: "nobody"},
			{Address: "old@example.com", ExpiresAt: new(b.clock.at(-time.Minute))},
		})
		require.NoError(t, err)
		require.True(t, res[0].Created)
		require.Equal(t, sendoka.ChannelEmail, res[0].Suppression.Channel, "inferred from the address")
		require.Equal(t, "temp@example.com", res[0].Suppression.Address)
		require.Equal(t, "key_admin", res[0].Suppression.CreatedBy)
		require.Equal(t, sendoka.SuppressionOptOut, res[1].Suppression.Reason, "stop is the SMS opt-out")
		requirePaths(t, res[2].Err, []any{"channel"})
		requirePaths(t, res[3].Err, []any{"expires_at"})

		_, err = b.client.SendEmail(ctx, live, b.email("temp@example.com"))
		requireCode(t, sendoka.CodeAllSuppressed, err)
		// Accepted while suppressed elsewhere in the list: a scheduled message checks again at
		// delivery, after the suppression expired.
		b.clock.set(time.Hour)
		m, err := b.client.SendEmail(ctx, live, b.email("temp@example.com"))
		require.NoError(t, err, "expired: sends go out again")
		require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{}))
		require.Equal(t, sendoka.StatusSent, b.get(t, sendoka.ChannelEmail, m.ID).Status)
		_, err = b.client.GetSuppression(ctx, live, sendoka.ChannelEmail, "temp@example.com")
		requireCode(t, sendoka.CodeNotFound, err)

		// A bounce now suppresses afresh; the expired one is history.
		require.NoError(t, b.client.HandleProviderEvent(ctx, sendoka.ProviderEvent{MessageID: m.ID, Type: sendoka.ProviderBounced, OccurredAt: b.clock.now()}))
		s, err := b.client.GetSuppression(ctx, live, sendoka.ChannelEmail, "temp@example.com")
		require.NoError(t, err)
		require.Equal(t, sendoka.SuppressionBounce, s.Reason)
		require.Equal(t, m.ID, s.MessageID)

		lifted, err := b.client.Unsuppress(ctx, live, sendoka.ChannelEmail, "temp@example.com")
		require.NoError(t, err)
		require.True(t, lifted)
		rec, err := b.client.SuppressionDetail(ctx, live, "", "TEMP@example.com")
		require.NoError(t, err)
		require.Nil(t, rec.Current)
		require.Len(t, rec.History, 2)
		require.Equal(t, "key_admin", rec.History[0].RemovedBy)
		require.Equal(t, sendoka.SuppressionBounce, rec.History[0].Reason)
		require.Equal(t, sendoka.RemovedByExpiry, rec.History[1].RemovedBy)
		_, err = b.client.SuppressionDetail(ctx, live, "", "never@example.com")
		requireCode(t, sendoka.CodeNotFound, err)

		// Too many rows is refused as a whole.
		_, err = b.client.AddSuppressions(ctx, live, make([]sendoka.SuppressionInput, sendoka.MaxSuppressionBatch+1))
		requirePaths(t, err, []any{"suppressions"})
	})
}

// TestSuppressedRecipientEvent: a recipient dropped at acceptance is named by a
// message.suppressed event on the message that goes to the others.
func TestSuppressedRecipientEvent(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		live := sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive)
		_, err := b.client.Suppress(ctx, live, sendoka.ChannelEmail, "gone@example.com")
		require.NoError(t, err)
		req := b.email("gone@example.com")
		req.To = append(req.To, "kept@example.com")
		m, err := b.client.SendEmail(ctx, live, req)
		require.NoError(t, err)
		got := b.get(t, sendoka.ChannelEmail, m.ID)
		var suppressed []sendoka.Event
		for _, e := range got.Events {
			if e.Type == sendoka.EventSuppressed {
				suppressed = append(suppressed, e)
			}
		}
		require.Len(t, suppressed, 1)
		require.Equal(t, "gone@example.com", suppressed[0].Recipient)
		require.Equal(t, "manual", suppressed[0].Data["reason"])
		require.Equal(t, []string{"kept@example.com"}, got.Email.To)
	})
}
