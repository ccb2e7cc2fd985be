package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// testSuppressionManagement covers what the suppressions API needs of the Store: expiry,
// the history of lifted suppressions, and the filtered, paginated listing.
func testSuppressionManagement(t *testing.T, b *bundle) {
	const org = "org_supm"
	sup := func(tenant string, ch sendoka.Channel, addr string, reason sendoka.SuppressionReason, n int) *sendoka.Suppression {
		return &sendoka.Suppression{ID: sendoka.NewID(sendoka.PrefixSuppression, b.at(n)), OrgID: org, TenantID: tenant,
			Channel: ch, Address: addr, Reason: reason, CreatedAt: b.at(n)}
	}
	insert := func(t *testing.T, s *sendoka.Suppression) bool {
		t.Helper()
		var added bool
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			added, err = tx.InsertSuppression(ctx, s)
			return err
		})
		return added
	}
	history := func(t *testing.T, tenant string, ch sendoka.Channel, addr string) []*sendoka.Suppression {
		t.Helper()
		h, err := b.store.SuppressionHistory(b.ctx(t), org, tenant, ch, addr, 10)
		require.NoError(t, err)
		return h
	}

	t.Run("expiry", func(t *testing.T) {
		s := sup("", sendoka.ChannelEmail, "exp@example.com", sendoka.SuppressionManual, 100)
		s.CreatedBy = "key_a"
		exp := b.at(200)
		s.ExpiresAt = &exp
		require.True(t, insert(t, s))
		got, err := b.store.GetSuppressions(b.ctx(t), org, "", sendoka.ChannelEmail, []string{"exp@example.com"})
		require.NoError(t, err)
		require.Equal(t, []*sendoka.Suppression{s}, got, "expires_at and created_by round-trip")

		// Not yet expired when the new one comes: the first stays.
		require.False(t, insert(t, sup("", sendoka.ChannelEmail, "exp@example.com", sendoka.SuppressionBounce, 199)))
		// Expired: the new one replaces it, and the old one is history.
		again := sup("", sendoka.ChannelEmail, "exp@example.com", sendoka.SuppressionBounce, 200)
		require.True(t, insert(t, again))
		got, err = b.store.GetSuppressions(b.ctx(t), org, "", sendoka.ChannelEmail, []string{"exp@example.com"})
		require.NoError(t, err)
		require.Equal(t, []*sendoka.Suppression{again}, got)
		h := history(t, "", sendoka.ChannelEmail, "exp@example.com")
		require.Len(t, h, 1)
		require.Equal(t, s.ID, h[0].ID)
		require.Equal(t, sendoka.RemovedByExpiry, h[0].RemovedBy)
		require.Equal(t, b.at(200), *h[0].RemovedAt)
		require.Equal(t, "key_a", h[0].CreatedBy)
	})

	t.Run("bulk", func(t *testing.T) {
		old := sup("ten_b", sendoka.ChannelEmail, "old@example.com", sendoka.SuppressionBounce, 500)
		exp := b.at(550)
		old.ExpiresAt = &exp
		kept := sup("ten_b", sendoka.ChannelEmail, "kept@example.com", sendoka.SuppressionBounce, 500)
		require.True(t, insert(t, old))
		require.True(t, insert(t, kept))
		var batch []*sendoka.Suppression
		for i, a := range []string{"new1@example.com", "old@example.com", "kept@example.com", "new1@example.com", "new2@example.com"} {
			s := sup("ten_b", sendoka.ChannelEmail, a, sendoka.SuppressionManual, 600)
			s.ID = fmt.Sprintf("sup_bulk_%d", i)
			batch = append(batch, s)
		}
		var had []*sendoka.Suppression
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			had, err = tx.InsertSuppressions(ctx, batch)
			return err
		})
		require.Len(t, had, 5)
		require.Nil(t, had[0])
		require.Nil(t, had[1], "the expired one is replaced")
		require.Equal(t, kept, had[2], "the live one stays, and is returned")
		require.Equal(t, batch[0], had[3], "a repeat is not added: the first one is in force")
		require.Nil(t, had[4])
		got, err := b.store.GetSuppressions(b.ctx(t), org, "ten_b", sendoka.ChannelEmail, []string{"old@example.com", "kept@example.com"})
		require.NoError(t, err)
		byAddr := map[string]string{}
		for _, s := range got {
			byAddr[s.Address] = s.ID
		}
		require.Equal(t, map[string]string{"old@example.com": "sup_bulk_1", "kept@example.com": kept.ID}, byAddr)
		h := history(t, "ten_b", sendoka.ChannelEmail, "old@example.com")
		require.Len(t, h, 1)
		require.Equal(t, old.ID, h[0].ID)
		require.Equal(t, sendoka.RemovedByExpiry, h[0].RemovedBy)
		require.Equal(t, b.at(600), *h[0].RemovedAt)
		require.Equal(t, &exp, h[0].ExpiresAt)

		// More than one statement's worth.
		batch = batch[:0]
		for i := range 1200 {
			batch = append(batch, sup("ten_c", sendoka.ChannelSMS, fmt.Sprintf("+1555127%04d", i), sendoka.SuppressionManual, 700))
		}
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			var err error
			had, err = tx.InsertSuppressions(ctx, batch)
			return err
		})
		for _, h := range had {
			require.Nil(t, h)
		}
	})

	t.Run("history", func(t *testing.T) {
		require.True(t, insert(t, sup("ten_1", sendoka.ChannelSMS, "+15551260001", sendoka.SuppressionOptOut, 300)))
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			lifted, err := tx.DeleteSuppression(ctx, org, "ten_1", sendoka.ChannelSMS, "+15551260001", "key_b", b.at(301))
			require.True(t, lifted)
			return err
		})
		require.True(t, insert(t, sup("ten_1", sendoka.ChannelSMS, "+15551260001", sendoka.SuppressionManual, 302)))
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
			_, err := tx.DeleteSuppression(ctx, org, "ten_1", sendoka.ChannelSMS, "+15551260001", "key_c", b.at(303))
			return err
		})
		h := history(t, "ten_1", sendoka.ChannelSMS, "+15551260001")
		require.Len(t, h, 2)
		require.Equal(t, "key_c", h[0].RemovedBy, "most recently removed first")
		require.Equal(t, sendoka.SuppressionManual, h[0].Reason)
		require.Equal(t, "key_b", h[1].RemovedBy)
		require.Equal(t, sendoka.SuppressionOptOut, h[1].Reason)
		require.Empty(t, history(t, "ten_2", sendoka.ChannelSMS, "+15551260001"), "another tenant's history is its own")
		require.Empty(t, history(t, "", sendoka.ChannelSMS, "+15551260001"), "the org-wide namespace is apart")
	})

	t.Run("list", func(t *testing.T) {
		const lorg = "org_supl"
		mk := func(tenant string, ch sendoka.Channel, addr string, reason sendoka.SuppressionReason, n int) *sendoka.Suppression {
			s := sup(tenant, ch, addr, reason, n)
			s.OrgID = lorg
			require.True(t, insert(t, s))
			return s
		}
		a := mk("", sendoka.ChannelEmail, "a@example.com", sendoka.SuppressionBounce, 400)
		bb := mk("", sendoka.ChannelEmail, "b@example.com", sendoka.SuppressionComplaint, 401)
		c := mk("", sendoka.ChannelSMS, "+15551260002", sendoka.SuppressionOptOut, 402)
		d := mk("", sendoka.ChannelEmail, "d@example.com", sendoka.SuppressionBounce, 402) // same time as c
		mk("ten_1", sendoka.ChannelEmail, "t@example.com", sendoka.SuppressionBounce, 403)
		list := func(t *testing.T, scope sendoka.Scope, q sendoka.SuppressionQuery) *sendoka.SuppressionPage {
			t.Helper()
			if q.Limit == 0 {
				q.Limit = 100
			}
			p, err := b.store.ListSuppressions(b.ctx(t), scope, q)
			require.NoError(t, err)
			return p
		}
		ids := func(p *sendoka.SuppressionPage) []string {
			out := []string{}
			for _, s := range p.Suppressions {
				out = append(out, s.ID)
			}
			return out
		}
		orgScope := sendoka.Scope{OrgID: lorg}
		newest := []string{c.ID, d.ID}
		if d.ID > c.ID {
			newest = []string{d.ID, c.ID}
		}
		all := append(append([]string{}, newest...), bb.ID, a.ID)
		require.Equal(t, all, ids(list(t, orgScope, sendoka.SuppressionQuery{})), "org-wide only, newest first")
		require.Equal(t, []string{d.ID, a.ID}, ids(list(t, orgScope, sendoka.SuppressionQuery{Reason: sendoka.SuppressionBounce})))
		require.Equal(t, []string{c.ID}, ids(list(t, orgScope, sendoka.SuppressionQuery{Channel: sendoka.ChannelSMS})))
		after, before := b.at(401), b.at(402)
		require.Equal(t, []string{bb.ID}, ids(list(t, orgScope, sendoka.SuppressionQuery{CreatedAfter: &after, CreatedBefore: &before})),
			"created_after is inclusive, created_before exclusive")
		require.Len(t, list(t, sendoka.Scope{OrgID: lorg, TenantID: "ten_1"}, sendoka.SuppressionQuery{}).Suppressions, 1)
		require.Empty(t, list(t, sendoka.Scope{OrgID: "org_other"}, sendoka.SuppressionQuery{}).Suppressions)

		// Pages of one, across the tie in created_at.
		var got []string
		var cur *sendoka.Cursor
		for range 10 {
			p := list(t, orgScope, sendoka.SuppressionQuery{Limit: 1, After: cur})
			got = append(got, ids(p)...)
			if !p.HasMore {
				break
			}
			last := p.Suppressions[0]
			cur = &sendoka.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
		}
		require.Equal(t, all, got)
	})
}
