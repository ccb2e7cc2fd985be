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

// TestTestAndLiveDataApart: a test principal sees only test messages and a live one only
// live messages, by id, in lists, in timelines, and for cancel and reschedule; templates are
// shared by both modes.
func TestTestAndLiveDataApart(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		live := sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive)
		test := sendoka.SystemPrincipal(b.orgID, sendoka.ModeTest)

		lm, err := b.client.SendEmail(ctx, live, b.email("live@example.com"))
		require.NoError(t, err)
		tm, err := b.client.SendEmail(ctx, test, b.email("test@example.com"))
		require.NoError(t, err)
		at := b.clock.now().Add(time.Hour).Format(time.RFC3339)
		later := b.email("later@example.com")
		later.ScheduledAt = at
		ls, err := b.client.SendEmail(ctx, live, later)
		require.NoError(t, err)

		for _, c := range []struct {
			p          *sendoka.Principal
			mine       []string
			theirs     []string
			theirsName string
		}{
			{live, []string{ls.ID, lm.ID}, []string{tm.ID}, "test"},
			{test, []string{tm.ID}, []string{lm.ID, ls.ID}, "live"},
		} {
			page, err := b.client.ListMessages(ctx, c.p, sendoka.ChannelEmail, sendoka.ListParams{})
			require.NoError(t, err)
			var ids []string
			for _, m := range page.Messages {
				ids = append(ids, m.ID)
			}
			require.Equal(t, c.mine, ids, "a %s principal lists its own mode only", c.p.Mode)
			for _, id := range c.mine {
				got, err := b.client.GetMessage(ctx, c.p, sendoka.ChannelEmail, id)
				require.NoError(t, err)
				require.NotEmpty(t, got.Events, "with its timeline")
			}
			for _, id := range c.theirs {
				_, err := b.client.GetMessage(ctx, c.p, sendoka.ChannelEmail, id)
				requireCode(t, sendoka.CodeNotFound, err)
			}
		}
		_, err = b.client.CancelMessage(ctx, test, sendoka.ChannelEmail, ls.ID)
		requireCode(t, sendoka.CodeNotFound, err) // a test key cannot touch a live schedule
		got, err := b.client.GetMessage(ctx, live, sendoka.ChannelEmail, ls.ID)
		require.NoError(t, err)
		require.Equal(t, sendoka.StatusScheduled, got.Status)
		_, err = b.client.CancelMessage(ctx, live, sendoka.ChannelEmail, ls.ID)
		require.NoError(t, err)

		// Templates are shared: one made with a test key sends with a live key.
		_, err = b.client.CreateTemplate(ctx, test, &sendoka.TemplateRequest{Slug: "shared", Channel: sendoka.ChannelEmail, Subject: "Hi {{name}}", Text: "Hello"})
		require.NoError(t, err)
		req := b.email("t@example.com")
		req.Subject, req.Text, req.Template, req.Variables = "", "", "shared", map[string]any{"name": "Ada"}
		m, err := b.client.SendEmail(ctx, live, req)
		require.NoError(t, err)
		require.Equal(t, "Hi Ada", m.Email.Subject)
	})
}
