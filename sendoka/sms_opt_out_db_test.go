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

// TestSMSOptOutHint: a broadcast SMS gets its sender's country's opt-out line, on a line
// of its own, with its segments counted again; a body that already says it keeps its
// text; a sender of a country without a hint adds nothing; a transactional SMS from the
// same sender is left alone. Hints with a key that is no country are refused at New.
func TestSMSOptOutHint(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newAudienceBundle(t, db)
		const hint = "Text STOP to 60777 to opt out."
		c, err := sendoka.New(sendoka.Config{Store: b.db, Queue: b.queue, Clock: b.clock, Email: b.fake, SMS: b.fake,
			SandboxEmail: b.fake, SandboxSMS: b.fake, SMSOptOutHints: sendoka.SMSOptOutHints{"GB": hint}})
		require.NoError(t, err)
		ctx := context.Background()
		for _, pn := range []sendoka.PhoneNumberRequest{
			{Kind: sendoka.SenderAlphanumeric, SenderID: "ShopUK", ISOCountry: "GB"},
			{Kind: sendoka.SenderAlphanumeric, SenderID: "ShopDE", ISOCountry: "DE"},
		} {
			_, err := c.CreatePhoneNumber(ctx, b.p, &pn)
			require.NoError(t, err)
		}
		for slug, body := range map[string]string{
			"sale":    "Hi {{first_name}}, the sale starts today.",
			"already": "Hi {{first_name}}. text stop to 60777 to opt out.",
		} {
			_, err := c.CreateTemplate(ctx, b.p, &sendoka.TemplateRequest{Slug: slug, Channel: sendoka.ChannelSMS, Body: body})
			require.NoError(t, err)
		}
		a, err := c.CreateAudience(ctx, b.p, &sendoka.AudienceRequest{Name: "SMS readers"})
		require.NoError(t, err)
		_, err = c.UpsertContacts(ctx, b.p, a.ID, []sendoka.ContactInput{
			{Phone: "+447700900123", FirstName: "Ada"}, {Phone: "+447700900456", FirstName: "Alan"}})
		require.NoError(t, err)

		bodies := func(from, template string) []*sendoka.Message {
			t.Helper()
			s, err := c.SendToAudience(ctx, b.p, a.ID, &sendoka.AudienceSendRequest{From: from, Channel: sendoka.ChannelSMS, Template: template})
			require.NoError(t, err)
			require.NoError(t, c.RunAudienceFanout(ctx, s.ID))
			rows, err := b.db.SQLDB().QueryContext(ctx, "SELECT message_id FROM audience_send_recipients WHERE send_id = $1 AND message_id IS NOT NULL", s.ID)
			require.NoError(t, err)
			var ids []string
			for rows.Next() {
				var id string
				require.NoError(t, rows.Scan(&id))
				ids = append(ids, id)
			}
			require.NoError(t, rows.Err())
			require.NoError(t, rows.Close()) // SQLite has one connection: free it before the reads
			var out []*sendoka.Message
			for _, id := range ids {
				m, err := c.GetMessage(ctx, b.p, sendoka.ChannelSMS, id)
				require.NoError(t, err)
				out = append(out, m)
			}
			require.Len(t, out, 2)
			return out
		}

		for _, m := range bodies("ShopUK", "sale") {
			require.True(t, strings.HasSuffix(m.SMS.Body, "the sale starts today.\n"+hint), "%q", m.SMS.Body)
			enc, segs := sendoka.SMSSegments(m.SMS.Body)
			require.Equal(t, enc, m.SMS.Encoding)
			require.Equal(t, segs, m.SMS.Segments, "segments counted with the hint")
		}
		for _, m := range bodies("ShopUK", "already") {
			require.True(t, strings.HasSuffix(m.SMS.Body, ". text stop to 60777 to opt out."), "said already: %q", m.SMS.Body)
			require.Equal(t, 1, strings.Count(strings.ToLower(m.SMS.Body), "stop"))
		}
		for _, m := range bodies("ShopDE", "sale") {
			require.NotContains(t, m.SMS.Body, "STOP", "no hint for DE and no *")
		}

		single, err := c.SendSMS(ctx, b.p, &sendoka.SMSRequest{From: "ShopUK", To: "+447700900123", Body: "Your code is 123456"})
		require.NoError(t, err)
		require.Equal(t, "Your code is 123456", single.SMS.Body, "transactional SMS are left alone")

		_, err = sendoka.New(sendoka.Config{Store: b.db, Queue: b.queue, SMSOptOutHints: sendoka.SMSOptOutHints{"uk": hint}})
		require.ErrorContains(t, err, "ISO 3166-1")
		_, err = sendoka.New(sendoka.Config{Store: b.db, Queue: b.queue, SMSOptOutHints: sendoka.SMSOptOutHints{"*": " "}})
		require.ErrorContains(t, err, "1 to 160")
	})
}
