package sendoka_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestDeliveryReports: the VERP return path is signed and names the message; reports are
// applied per recipient (a multi-recipient message stays sent until each has an outcome), a
// report that names no recipient of a multi-recipient message suppresses nothing, a report
// is applied once, Message-ID matching works without a token, unknown reports are
// NOT_FOUND, and test-mode bounces never suppress.
func TestDeliveryReports(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		c, err := sendoka.New(sendoka.Config{Store: b.db, Queue: b.queue, Clock: b.clock,
			Email: b.fake, SMS: b.fake, SandboxEmail: b.fake, SandboxSMS: b.fake,
			Inbound: sendoka.InboundConfig{BounceDomain: "Bounce.Example.com"}})
		require.NoError(t, err)
		live := &sendoka.Principal{OrgID: b.orgID, Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}
		send := func(p *sendoka.Principal, to ...string) (*sendoka.Message, string) {
			t.Helper()
			req := b.email(to[0])
			req.To = to
			m, err := c.SendEmail(ctx, p, req)
			require.NoError(t, err)
			require.NoError(t, c.Deliver(ctx, m.ID, sendoka.DeliverOptions{}))
			for _, s := range b.fake.Sent() {
				if s.Email != nil && s.Email.MessageID == m.ID {
					return m, s.Email.ReturnPath
				}
			}
			t.Fatalf("%s not sent", m.ID)
			return nil, ""
		}
		m, rp := send(live, "gone@example.com", "ok@example.com")
		require.True(t, strings.HasPrefix(rp, sendoka.VERPPrefix) && strings.HasSuffix(rp, "@bounce.example.com"), rp)

		for addr, want := range map[string]bool{
			rp:                                true,
			strings.ToUpper(rp):               true,  // an MTA that folds case
			strings.Replace(rp, "+", "+a", 1): false, // tampered
			strings.Replace(rp, "bounce.example.com", "evil.com", 1): false,
			"bounces+@bounce.example.com":                            false,
		} {
			ok, err := c.CheckVERPAddress(ctx, addr)
			require.NoError(t, err)
			require.Equal(t, want, ok, addr)
		}

		hard := sendoka.ReportRecipient{Address: "Gone@Example.com", Kind: sendoka.ReportHardBounce, Action: "failed",
			Status: "5.1.1", SMTPCode: "550", Diagnostic: "550 5.1.1 user unknown", RemoteMTA: "mx.example.com", Reason: "user_unknown"}
		res, err := c.HandleDeliveryReport(ctx, &sendoka.DeliveryReport{ID: "r1", ReturnPath: rp, Format: "dsn", Recipients: []sendoka.ReportRecipient{hard}})
		require.NoError(t, err)
		require.Equal(t, sendoka.ReportResult{MessageID: m.ID, Applied: 1}, res)
		got := b.get(t, sendoka.ChannelEmail, m.ID)
		require.Equal(t, sendoka.StatusSent, got.Status, "ok@ has no outcome yet")
		require.Len(t, got.Recipients, 1)
		require.Equal(t, sendoka.RecipientBounced, got.Recipients[0].Status)
		require.Equal(t, "mx.example.com", got.Recipients[0].Diagnostic.RemoteMTA)
		_, err = c.GetSuppression(ctx, live, sendoka.ChannelEmail, "gone@example.com")
		require.NoError(t, err)

		// Applied once.
		res, err = c.HandleDeliveryReport(ctx, &sendoka.DeliveryReport{ID: "r1", ReturnPath: rp, Recipients: []sendoka.ReportRecipient{hard}})
		require.NoError(t, err)
		require.True(t, res.Duplicate)

		// No recipient named, several recipients: an event, no suppression, no move.
		anon := hard
		anon.Address = ""
		_, err = c.HandleDeliveryReport(ctx, &sendoka.DeliveryReport{ID: "r2", ReturnPath: rp, Recipients: []sendoka.ReportRecipient{anon}})
		require.NoError(t, err)
		_, err = c.GetSuppression(ctx, live, sendoka.ChannelEmail, "ok@example.com")
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))

		// Matched by Message-ID alone: the other recipient delivered, the message delivered.
		_, err = c.HandleDeliveryReport(ctx, &sendoka.DeliveryReport{ID: "r3", OriginalMessageID: "<" + m.ID + "@sandbox.sendoka.com>",
			Recipients: []sendoka.ReportRecipient{{Address: "ok@example.com", Kind: sendoka.ReportDelivered, Action: "delivered", Status: "2.0.0"}}})
		require.NoError(t, err)
		require.Equal(t, sendoka.StatusDelivered, b.get(t, sendoka.ChannelEmail, m.ID).Status)

		// Neither a valid token nor one of our Message-IDs.
		_, err = c.HandleDeliveryReport(ctx, &sendoka.DeliveryReport{ID: "r4", ReturnPath: strings.Replace(rp, "+", "+a", 1),
			OriginalMessageID: "<abc@example.net>", Recipients: []sendoka.ReportRecipient{hard}})
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))

		// Text from the network with NUL and invalid UTF-8 is stored cleaned (Postgres' jsonb
		// refuses \u0000).
		_, err = c.HandleDeliveryReport(ctx, &sendoka.DeliveryReport{ID: "r6", ReturnPath: rp, Format: "nonstd\x00",
			Recipients: []sendoka.ReportRecipient{{Address: "ok@example.com", Kind: sendoka.ReportSoftBounce,
				Diagnostic: "452 full\x00\xff", RemoteMTA: "mx\x00.example.com", Reason: "mailbox_full"}}})
		require.NoError(t, err)
		last := b.get(t, sendoka.ChannelEmail, m.ID).Events
		require.Equal(t, "452 full\uFFFD", last[len(last)-1].Diagnostic.Message)

		// A test-mode message bounces, and suppresses nothing.
		tm, trp := send(b.p, "testgone@example.com")
		_, err = c.HandleDeliveryReport(ctx, &sendoka.DeliveryReport{ID: "r5", ReturnPath: trp,
			Recipients: []sendoka.ReportRecipient{{Kind: sendoka.ReportHardBounce, Status: "5.1.1"}}})
		require.NoError(t, err)
		require.Equal(t, sendoka.StatusBounced, b.get(t, sendoka.ChannelEmail, tm.ID).Status, "the token names the only recipient")
		_, err = c.GetSuppression(ctx, b.p, sendoka.ChannelEmail, "testgone@example.com")
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
	})
}
