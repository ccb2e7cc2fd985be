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

// TestRetention: with the clock moved, a finished message older than the content retention
// loses its body and attachments but keeps its addresses, subject, tags, status and events;
// an unfinished one and a recent one keep everything; a message older than the message
// retention is deleted with its events; a second pass finds nothing new.
func TestRetention(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		day := 24 * time.Hour
		send := func(req *sendoka.EmailRequest) *sendoka.Message {
			m, err := b.client.SendEmail(ctx, b.p, req)
			require.NoError(t, err)
			return m
		}
		finished := func(req *sendoka.EmailRequest) *sendoka.Message {
			req.ScheduledAt = b.clock.in(time.Hour)
			m := send(req)
			_, err := b.client.CancelMessage(ctx, b.p, sendoka.ChannelEmail, m.ID)
			require.NoError(t, err)
			return m
		}
		b.clock.set(-500 * day)
		ancient := finished(b.email("ancient@example.com"))
		b.clock.set(-40 * day)
		old := b.email("old@example.com")
		old.HTML, old.Tags = "<p>secret body</p>", []string{"welcome"}
		old.Attachments = []sendoka.AttachmentRequest{{Filename: "a.txt", Content: "aGVsbG8="}}
		oldMsg := finished(old)
		unfinished := send(b.email("queued@example.com")) // no workers: stays queued
		b.clock.set(0)
		recent := finished(b.email("recent@example.com"))

		purged, err := b.client.PurgeContent(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, purged, "the old finished message, and the ancient one (deleted next)")
		deleted, err := b.client.DeleteOldMessages(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, deleted)

		got := b.get(t, sendoka.ChannelEmail, oldMsg.ID)
		require.NotNil(t, got.ContentPurgedAt)
		require.Empty(t, got.Email.HTML)
		require.Empty(t, got.Email.Text)
		require.Equal(t, []string{"old@example.com"}, got.Email.To, "addresses stay")
		require.Equal(t, "Hi", got.Email.Subject, "the subject stays")
		require.Equal(t, "a.txt", got.Email.Attachments[0].Filename, "attachment names stay")
		require.Equal(t, []string{"welcome"}, got.Tags)
		require.Equal(t, sendoka.StatusCanceled, got.Status)
		require.NotEmpty(t, got.Events, "events stay")
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			contents, err := tx.AttachmentContents(ctx, oldMsg.ID)
			require.Empty(t, contents, "attachment bytes are gone")
			return err
		}))

		for _, m := range []*sendoka.Message{unfinished, recent} {
			got := b.get(t, sendoka.ChannelEmail, m.ID)
			require.Nil(t, got.ContentPurgedAt, m.Email.To)
			require.Equal(t, "Hello", got.Email.Text, "kept: %v", m.Email.To)
		}
		_, err = b.client.GetMessage(ctx, b.p, sendoka.ChannelEmail, ancient.ID)
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err), "deleted")
		events, err := db.ListEvents(ctx, sendoka.Scope{OrgID: b.orgID, Mode: sendoka.ModeTest}, ancient.ID)
		require.NoError(t, err)
		require.Empty(t, events, "with its events")

		purged, err = b.client.PurgeContent(ctx)
		require.NoError(t, err)
		require.Zero(t, purged, "the cursor moved past what was done")
		deleted, err = b.client.DeleteOldMessages(ctx)
		require.NoError(t, err)
		require.Zero(t, deleted)
	})
}

// TestInboundRetention: inbound emails older than the content retention are deleted, with
// their attachments, when content is purged; recent ones stay.
func TestInboundRetention(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		route := &sendoka.InboundRoute{ID: sendoka.NewID(sendoka.PrefixInboundRoute, time.Now()), OrgID: b.orgID, Match: "in@in.example.com"}
		receive := func() *sendoka.InboundEmail {
			e, err := b.client.ReceiveInboundEmail(ctx, route, &sendoka.InboundMessage{Subject: "Hi", Text: "Hello",
				Attachments: []sendoka.InboundAttachment{{Filename: "a.txt", Content: []byte("a")}}})
			require.NoError(t, err)
			return e
		}
		b.clock.set(-40 * 24 * time.Hour)
		old := receive()
		b.clock.set(0)
		recent := receive()
		_, err := b.client.PurgeContent(ctx)
		require.NoError(t, err)
		ns := sendoka.Scope{OrgID: b.orgID}
		_, err = db.GetInboundEmail(ctx, ns, old.ID)
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
		_, err = db.InboundAttachmentContent(ctx, ns, old.ID, 0)
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
		_, err = db.GetInboundEmail(ctx, ns, recent.ID)
		require.NoError(t, err)
		n, err := b.client.DeleteOldInboundEmails(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
	})
}
