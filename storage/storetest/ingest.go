package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// testProviderIngest covers what provider ingestion needs of the Store: notification
// dedupe (concurrent too), messages by provider id, and per-recipient outcomes read in scope.
func testProviderIngest(t *testing.T, b *bundle) {
	const org = "org_ingest"
	m := newEmail(org, "ten_1", b.at(0))
	m.Provider, m.ProviderMessageID, m.Status = "ses", "0100-ses-id-1", sendoka.StatusSent
	other := newEmail(org, "", b.at(1))
	b.insert(t, m, other)

	t.Run("by provider id", func(t *testing.T) {
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			got, err := tx.MessagesByProviderID(ctx, "0100-ses-id-1")
			require.NoError(t, err)
			require.Equal(t, []string{m.ID}, ids(got))
			got, err = tx.MessagesByProviderID(ctx, "unknown")
			require.NoError(t, err)
			require.Empty(t, got)
			got, err = tx.MessagesByProviderID(ctx, "")
			require.NoError(t, err)
			require.Empty(t, got, "messages without a provider id never match")
			return nil
		})
	})

	t.Run("dedupe", func(t *testing.T) {
		mark := func(id string) (bool, error) {
			var fresh bool
			err := b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error {
				var err error
				fresh, err = tx.MarkNotification(ctx, id, b.at(5))
				return err
			})
			return fresh, err
		}
		fresh, err := mark("sns:1")
		require.NoError(t, err)
		require.True(t, fresh)
		fresh, err = mark("sns:1")
		require.NoError(t, err)
		require.False(t, fresh)
		require.Equal(t, 1, race(t, 8, func(int) (bool, error) { return mark("sns:race") }), "one of concurrent marks wins")
		// A rolled-back mark leaves no trace.
		require.Error(t, b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error {
			_, err := tx.MarkNotification(ctx, "sns:rolled-back", b.at(6))
			require.NoError(t, err)
			return sendoka.Errorf(sendoka.CodeConflict, "roll back")
		}))
		fresh, err = mark("sns:rolled-back")
		require.NoError(t, err)
		require.True(t, fresh)

		// Pruning forgets ids marked before the cut-off (the three above, all at b.at(5)), a
		// batch at a time; a forgotten id is fresh again.
		prune := func(before time.Time, limit int) int {
			var n int
			b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
				var err error
				n, err = tx.PruneNotifications(ctx, before, limit)
				return err
			})
			return n
		}
		require.Zero(t, prune(b.at(5), 100), "nothing before b.at(5)")
		require.Equal(t, 2, prune(b.at(6), 2))
		require.Equal(t, 1, prune(b.at(6), 2), "the third")
		require.Zero(t, prune(b.at(6), 2))
		fresh, err = mark("sns:1")
		require.NoError(t, err)
		require.True(t, fresh)
	})

	t.Run("recipients", func(t *testing.T) {
		put := func(r sendoka.MessageRecipient) {
			b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.PutMessageRecipient(ctx, &r) })
		}
		diag := &sendoka.Diagnostic{Provider: "ses", Code: "5.1.1", Message: "smtp; 550 5.1.1 user unknown",
			SMTPStatus: "550", EnhancedStatus: "5.1.1", BounceType: "Permanent", BounceSubType: "General"}
		put(sendoka.MessageRecipient{MessageID: m.ID, Address: "b@example.com", Status: sendoka.RecipientDelayed, UpdatedAt: b.at(10)})
		put(sendoka.MessageRecipient{MessageID: m.ID, Address: "a@example.com", Status: sendoka.RecipientDelivered, UpdatedAt: b.at(11)})
		put(sendoka.MessageRecipient{MessageID: m.ID, Address: "b@example.com", Status: sendoka.RecipientBounced, Diagnostic: diag, UpdatedAt: b.at(12)})
		want := []sendoka.MessageRecipient{
			{MessageID: m.ID, Address: "a@example.com", Status: sendoka.RecipientDelivered, UpdatedAt: b.at(11)},
			{MessageID: m.ID, Address: "b@example.com", Status: sendoka.RecipientBounced, Diagnostic: diag, UpdatedAt: b.at(12)},
		}
		got, err := b.store.ListMessageRecipients(b.ctx(t), sendoka.Scope{OrgID: org, TenantID: "ten_1", Mode: sendoka.ModeLive}, m.ID)
		require.NoError(t, err)
		require.Equal(t, want, got, "by address; a put replaces the row")
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			got, err := tx.ListMessageRecipients(ctx, m.ID)
			require.NoError(t, err)
			require.Equal(t, want, got)
			return nil
		})
		for _, scope := range []sendoka.Scope{
			{OrgID: "org_other"},
			{OrgID: org, TenantID: "ten_2"},
			{OrgID: org, Mode: sendoka.ModeTest},
		} {
			got, err := b.store.ListMessageRecipients(b.ctx(t), scope, m.ID)
			require.NoError(t, err)
			require.Empty(t, got, "%+v sees none", scope)
		}
		got, err = b.store.ListMessageRecipients(b.ctx(t), sendoka.Scope{OrgID: org}, other.ID)
		require.NoError(t, err)
		require.Empty(t, got)
	})
}
