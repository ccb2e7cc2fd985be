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

// TestIngestProviderNotification: per-recipient outcomes, the message's status rule (sent
// until every recipient has an outcome; delivered when one was delivered), idempotence on the
// notification id, no regression from a late report, suppression scoped to the tenant.
func TestIngestProviderNotification(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		tenantA := &sendoka.Principal{OrgID: b.orgID, TenantID: "ten_a", Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}
		tenantB := &sendoka.Principal{OrgID: b.orgID, TenantID: "ten_b", Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}
		req := b.email("gone@example.com")
		req.To = append(req.To, "OK@example.com")
		m, err := b.client.SendEmail(ctx, tenantA, req)
		require.NoError(t, err)
		require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{}))
		m = b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusSent, m.Status)
		pid := m.ProviderMessageID
		require.NotEmpty(t, pid)

		ingest := func(id string, events ...sendoka.ProviderEvent) sendoka.IngestResult {
			t.Helper()
			res, err := b.client.IngestProviderNotification(ctx, sendoka.ProviderNotification{ID: id, ProviderMessageID: pid, Events: events})
			require.NoError(t, err)
			return res
		}
		bounceDiag := &sendoka.Diagnostic{Provider: "ses", Code: "5.1.1", Message: "smtp; 550 5.1.1 user unknown",
			SMTPStatus: "550", EnhancedStatus: "5.1.1", BounceType: "Permanent", BounceSubType: "General"}
		bounce := sendoka.ProviderEvent{Type: sendoka.ProviderBounced, Recipient: "gone@example.com", Diagnostic: bounceDiag, OccurredAt: time.Now()}
		res := ingest("sns:1", bounce)
		require.Equal(t, []string{m.ID}, res.Messages)
		got := b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusSent, got.Status, "one recipient still pending")
		require.Equal(t, []sendoka.MessageRecipient{{MessageID: m.ID, Address: "gone@example.com", Status: sendoka.RecipientBounced,
			Diagnostic: bounceDiag, UpdatedAt: got.Recipients[0].UpdatedAt}}, got.Recipients)
		events := len(got.Events)

		// The same notification again changes nothing.
		require.True(t, ingest("sns:1", bounce).Duplicate)
		require.Len(t, b.get(t, sendoka.ChannelEmail, m.ID).Events, events)

		// A delay, then the delivery of the other recipient: delivered.
		ingest("sns:2", sendoka.ProviderEvent{Type: sendoka.ProviderDelayed, Recipient: "ok@example.com", OccurredAt: time.Now()})
		require.Equal(t, sendoka.StatusSent, b.get(t, sendoka.ChannelEmail, m.ID).Status)
		ingest("sns:3", sendoka.ProviderEvent{Type: sendoka.ProviderDelivered, Recipient: "ok@example.com", OccurredAt: time.Now()})
		got = b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusDelivered, got.Status)
		require.Len(t, got.Recipients, 2)
		require.Equal(t, sendoka.RecipientDelivered, got.Recipients[1].Status)

		// A late delivery of the bounced recipient is recorded but moves nothing back.
		ingest("sns:4", sendoka.ProviderEvent{Type: sendoka.ProviderDelivered, Recipient: "gone@example.com", OccurredAt: time.Now()})
		got = b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.RecipientBounced, got.Recipients[0].Status)
		require.Equal(t, sendoka.StatusDelivered, got.Status)
		last := got.Events[len(got.Events)-1]
		require.Equal(t, sendoka.EventDelivered, last.Type)
		require.Empty(t, last.Status)
		require.Equal(t, "delivered", last.Data["ignored_recipient_status"])

		// The bounce suppressed the address for tenant A only.
		_, err = b.client.SendEmail(ctx, tenantA, b.email("gone@example.com"))
		requireCode(t, sendoka.CodeAllSuppressed, err)
		_, err = b.client.SendEmail(ctx, tenantB, b.email("gone@example.com"))
		require.NoError(t, err)

		// A complaint after delivery: suppression (complaint), the message stays delivered.
		ingest("sns:5", sendoka.ProviderEvent{Type: sendoka.ProviderComplaint, Recipient: "ok@example.com", OccurredAt: time.Now()})
		got = b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusDelivered, got.Status)
		require.Equal(t, sendoka.RecipientComplained, got.Recipients[1].Status)
		s, err := b.client.GetSuppression(ctx, tenantA, sendoka.ChannelEmail, "ok@example.com")
		require.NoError(t, err)
		require.Equal(t, sendoka.SuppressionComplaint, s.Reason)

		// Ids are remembered for NotificationRetention, then forgotten.
		n, err := b.client.PruneProviderNotifications(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		b.clock.set(sendoka.NotificationRetention + time.Minute)
		n, err = b.client.PruneProviderNotifications(ctx)
		require.NoError(t, err)
		require.Equal(t, 5, n)
		require.False(t, ingest("sns:1", bounce).Duplicate)

		// Unknown provider ids match nothing and are not marked applied.
		res, err = b.client.IngestProviderNotification(ctx, sendoka.ProviderNotification{ID: "sns:6", ProviderMessageID: "nope",
			Events: []sendoka.ProviderEvent{{Type: sendoka.ProviderDelivered, Recipient: "x@example.com"}}})
		require.NoError(t, err)
		require.Empty(t, res.Messages)
		require.False(t, res.Duplicate)
	})
}

// TestIngestOrderIndependent: whatever order a bounce, a delay and a delivery of a
// single-recipient message arrive in, the message ends bounced when the bounce came while it
// was still sent, and a delivery first makes it delivered for good.
func TestIngestOrderIndependent(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		live := sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive)
		send := func(to string) *sendoka.Message {
			m, err := b.client.SendEmail(ctx, live, b.email(to))
			require.NoError(t, err)
			require.NoError(t, b.client.Deliver(ctx, m.ID, sendoka.DeliverOptions{}))
			return b.get(t, sendoka.ChannelEmail, m.ID)
		}
		apply := func(m *sendoka.Message, id string, typ sendoka.ProviderEventType, to string) {
			_, err := b.client.IngestProviderNotification(ctx, sendoka.ProviderNotification{ID: id, ProviderMessageID: m.ProviderMessageID,
				Events: []sendoka.ProviderEvent{{Type: typ, Recipient: to}}})
			require.NoError(t, err)
		}
		m := send("one@example.com")
		apply(m, "a1", sendoka.ProviderBounced, "one@example.com")
		apply(m, "a2", sendoka.ProviderDelivered, "one@example.com")
		apply(m, "a3", sendoka.ProviderDelayed, "one@example.com")
		got := b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusBounced, got.Status)
		require.Equal(t, sendoka.RecipientBounced, got.Recipients[0].Status)

		m = send("two@example.com")
		apply(m, "b1", sendoka.ProviderDelivered, "two@example.com")
		apply(m, "b2", sendoka.ProviderBounced, "two@example.com")
		got = b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusDelivered, got.Status)
		require.Equal(t, sendoka.RecipientDelivered, got.Recipients[0].Status)

		// A reject fails the whole message.
		m = send("three@example.com")
		_, err := b.client.IngestProviderNotification(ctx, sendoka.ProviderNotification{ID: "c1", ProviderMessageID: m.ProviderMessageID,
			Events: []sendoka.ProviderEvent{{Type: sendoka.ProviderFailed, Diagnostic: &sendoka.Diagnostic{Provider: "ses", Code: "rejected", Message: "Bad content"}}}})
		require.NoError(t, err)
		got = b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusFailed, got.Status)
		require.Equal(t, "Bad content", got.Diagnostic.Message)
	})
}
