package sendoka_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// audienceBundle is a dbBundle whose Client serves unsubscribe links.
type audienceBundle struct {
	*dbBundle
	c *sendoka.Client
}

const publicURL = "https://mail.example.com"

func newAudienceBundle(t *testing.T, db *bunstore.DB) *audienceBundle {
	t.Helper()
	b := newDBBundle(t, db)
	// Broadcast messages are delivered on the bulk queue: more workers there than its
	// default, so a thousand of them go out quickly under the race detector too.
	q, err := riverjobs.New(db.SQLDB(), string(db.Dialect()), riverjobs.Config{
		MaxWorkers: 20, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
		ConflictSnooze: 20 * time.Millisecond, QueueWorkers: map[sendoka.QueueName]int{sendoka.QueueBulk: 50},
	})
	require.NoError(t, err)
	b.queue = q
	c, err := sendoka.New(sendoka.Config{Store: b.db, Queue: b.queue, Clock: b.clock, Email: b.fake, SMS: b.fake,
		SandboxEmail: b.fake, SandboxSMS: b.fake, Tracking: sendoka.TrackingConfig{BaseURL: publicURL}})
	require.NoError(t, err)
	b.client = c // the workers run jobs with it too
	return &audienceBundle{dbBundle: b, c: c}
}

// audience makes an audience with n email contacts (first names First0...) and a news
// template.
func (b *audienceBundle) audience(t *testing.T, n int) (*sendoka.Audience, []*sendoka.Contact) {
	t.Helper()
	ctx := context.Background()
	_, err := b.c.CreateTemplate(ctx, b.p, &sendoka.TemplateRequest{Slug: "news", Channel: sendoka.ChannelEmail,
		Subject: "News for {{first_name}}", Text: "{{first_name}} is on {{data.plan}}; issue {{issue}}"})
	if sendoka.ErrorCode(err) != sendoka.CodeValidation { // it exists already
		require.NoError(t, err)
	}
	a, err := b.c.CreateAudience(ctx, b.p, &sendoka.AudienceRequest{Name: "Readers"})
	require.NoError(t, err)
	rows := make([]sendoka.ContactInput, n)
	for i := range rows {
		rows[i] = sendoka.ContactInput{Email: fmt.Sprintf("reader%04d@example.com", i), FirstName: fmt.Sprintf("First%d", i),
			Data: map[string]any{"plan": "pro"}}
	}
	res, err := b.c.UpsertContacts(ctx, b.p, a.ID, rows)
	require.NoError(t, err)
	contacts := make([]*sendoka.Contact, n)
	for i, r := range res {
		require.NoError(t, r.Err)
		contacts[i] = r.Contact
	}
	return a, contacts
}

// broadcastCounts reads how many broadcast messages exist, and how many distinct contacts
// of the send they went to.
func (b *audienceBundle) broadcastCounts(t *testing.T, sendID string) (messages, contacts int) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, b.db.SQLDB().QueryRowContext(ctx, "SELECT COUNT(*) FROM messages WHERE stream = 'broadcast'").Scan(&messages))
	require.NoError(t, b.db.SQLDB().QueryRowContext(ctx,
		"SELECT COUNT(DISTINCT contact_id) FROM audience_send_recipients WHERE send_id = $1 AND message_id IS NOT NULL", sendID).Scan(&contacts))
	return messages, contacts
}

// TestAudienceFanout: a send counts its recipients (unsubscribed and suppressed contacts
// left out, and contacts without an email), and its fan-out makes exactly one broadcast
// message per recipient however often it runs, concurrently included; River's workers then
// hand each to the provider once, rendered with the contact's fields under the call's
// variables and carrying one-click unsubscribe headers.
func TestAudienceFanout(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newAudienceBundle(t, db)
		ctx := context.Background()
		const n = 1001 // more than two chunks
		a, contacts := b.audience(t, n)
		extra, err := b.c.UpsertContacts(ctx, b.p, a.ID, []sendoka.ContactInput{
			{Email: "suppressed@example.com"}, {Email: "gone@example.com"}, {Phone: "+15559876543"}})
		require.NoError(t, err)
		_, err = b.c.AddSuppressions(ctx, b.p, []sendoka.SuppressionInput{{Address: "suppressed@example.com"}})
		require.NoError(t, err)
		u, err := b.c.UnsubscribeURL(ctx, a.ID, extra[1].Contact.ID)
		require.NoError(t, err)
		_, err = b.c.Unsubscribe(ctx, strings.TrimPrefix(u, publicURL+"/u/"))
		require.NoError(t, err)

		s, err := b.c.SendToAudience(ctx, b.p, a.ID, &sendoka.AudienceSendRequest{From: "news@sandbox.sendoka.com",
			Channel: sendoka.ChannelEmail, Template: "news", Variables: map[string]any{"issue": "April"}, Tags: []string{"news"}})
		require.NoError(t, err)
		require.Equal(t, n, s.Recipients)
		require.Equal(t, 1, s.SkippedSuppressed)
		require.Equal(t, 1, s.SkippedUnsubscribed)

		// The queue has not run: the fan-out runs here, twice at once and then again.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() { errs[i] = b.c.RunAudienceFanout(ctx, s.ID) })
		}
		wg.Wait()
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		require.NoError(t, b.c.RunAudienceFanout(ctx, s.ID))
		msgs, reached := b.broadcastCounts(t, s.ID)
		require.Equal(t, n, msgs, "one message per recipient")
		require.Equal(t, n, reached)

		got, err := b.c.GetAudienceSend(ctx, b.p, a.ID, "")
		require.NoError(t, err)
		require.Equal(t, s.ID, got.ID)
		require.Equal(t, n, got.Processed)
		require.Zero(t, got.Refused)
		require.NotNil(t, got.FinishedAt)
		require.Equal(t, map[sendoka.Status]int{sendoka.StatusQueued: n}, got.Statuses)

		// The workers run the fan-out job River still holds (a second run of it), and deliver.
		b.start(t)
		deliveries, cancel := context.WithTimeout(ctx, 2*time.Minute) // a thousand deliveries
		defer cancel()
		require.NoError(t, b.fake.WaitFor(deliveries, n))
		pollUntil(t, func() bool {
			got, err = b.c.GetAudienceSend(ctx, b.p, a.ID, s.ID)
			require.NoError(t, err)
			return got.Statuses[sendoka.StatusSent]+got.Statuses[sendoka.StatusDelivered] == n
		}, "not all sent: %v", lazy(func() string { return fmt.Sprint(got.Statuses) }))
		msgs, _ = b.broadcastCounts(t, s.ID)
		require.Equal(t, n, msgs, "the job's run made no more")

		byAddr := map[string]int{}
		for _, sent := range b.fake.Sent() {
			e := sent.Email
			require.NotNil(t, e)
			require.Len(t, e.To, 1)
			byAddr[e.To[0]]++
			require.True(t, strings.HasPrefix(e.Headers["List-Unsubscribe"], "<"+publicURL+"/u/"), e.Headers)
			require.Equal(t, "List-Unsubscribe=One-Click", e.Headers["List-Unsubscribe-Post"])
			require.Equal(t, []string{"news"}, e.Tags)
		}
		require.Len(t, byAddr, n)
		for i, c := range contacts {
			require.Equal(t, 1, byAddr[c.Email], "%s", c.Email)
			if i == 7 {
				m := b.messageTo(t, c.Email)
				require.Equal(t, "News for First7", m.Email.Subject)
				require.Equal(t, "First7 is on pro; issue April", m.Email.Text)
				require.Equal(t, sendoka.StreamBroadcast, m.StreamName())
			}
		}
		require.Zero(t, byAddr["suppressed@example.com"]+byAddr["gone@example.com"])
	})
}

// TestRecoverStalledFanout: the process running a fan-out died (its job is left running in
// the queue, which rescues it only after the job timeout and a minute). Recovery queues the
// fan-out again once its send has made no progress for FanoutStalledAfter, not before, and
// gives the new job as long again; the new job and the old one together give every contact
// exactly one message. The chaos suite (scenario 9) found such a send stalled for the
// queue's 16 minutes.
func TestRecoverStalledFanout(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newAudienceBundle(t, db)
		ctx := context.Background()
		const n = 700 // two chunks
		a, contacts := b.audience(t, n)
		s, err := b.c.SendToAudience(ctx, b.p, a.ID, &sendoka.AudienceSendRequest{From: "news@sandbox.sendoka.com",
			Channel: sendoka.ChannelEmail, Template: "news", Variables: map[string]any{"issue": "May"}})
		require.NoError(t, err)
		fanoutJobs := func() int {
			var k int
			require.NoError(t, db.SQLDB().QueryRowContext(ctx, "SELECT COUNT(*) FROM river_job WHERE kind = 'audience_fanout'").Scan(&k))
			return k
		}
		require.Equal(t, 1, fanoutJobs())

		// Nothing runs the send's job (the queue is not started): its process died.
		recovered := func() int {
			r, err := b.c.RecoverDeliveries(ctx)
			require.NoError(t, err)
			return r.Fanouts
		}
		require.Zero(t, recovered(), "first seen")
		b.clock.set(sendoka.DefaultFanoutStall - time.Second)
		require.Zero(t, recovered(), "not stalled yet")
		b.clock.set(sendoka.DefaultFanoutStall + time.Second)
		require.Equal(t, 1, recovered(), "stalled: queued again")
		require.Equal(t, 2, fanoutJobs())
		require.Zero(t, recovered(), "the new job has its own time")
		require.Equal(t, 2, fanoutJobs())

		// Both jobs run: one message per contact.
		b.start(t)
		deliveries, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		require.NoError(t, b.fake.WaitFor(deliveries, n))
		var got *sendoka.AudienceSend
		pollUntil(t, func() bool {
			got, err = b.c.GetAudienceSend(ctx, b.p, a.ID, s.ID)
			require.NoError(t, err)
			return got.FinishedAt != nil && got.Statuses[sendoka.StatusSent]+got.Statuses[sendoka.StatusDelivered] == n
		}, "not all sent: %v", lazy(func() string { return fmt.Sprint(got.Statuses) }))
		msgs, reached := b.broadcastCounts(t, s.ID)
		require.Equal(t, n, msgs, "one message per recipient")
		require.Equal(t, n, reached)
		byAddr := map[string]int{}
		for _, sent := range b.fake.Sent() {
			byAddr[sent.Email.To[0]]++
		}
		for _, c := range contacts {
			require.Equal(t, 1, byAddr[c.Email], "%s", c.Email)
		}
		require.Zero(t, recovered(), "a finished send is left alone")
	})
}

// messageTo finds the memsend record to an address and reads its message.
func (b *audienceBundle) messageTo(t *testing.T, addr string) *sendoka.Message {
	t.Helper()
	for _, s := range b.fake.Sent() {
		if s.Email != nil && s.Email.To[0] == addr {
			return b.get(t, sendoka.ChannelEmail, s.Email.MessageID)
		}
	}
	t.Fatalf("nothing sent to %s", addr)
	return nil
}

// TestAudienceSendLimits: more than MaxAudienceSend recipients is AUDIENCE_TOO_LARGE with
// advice to split, and nothing is recorded; suppressed and unsubscribed contacts do not
// count towards it; a broadcast email without a public URL for its unsubscribe link is
// refused; the template must exist.
func TestAudienceSendLimits(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newAudienceBundle(t, db)
		ctx := context.Background()
		a, _ := b.audience(t, sendoka.MaxAudienceSend)
		req := &sendoka.AudienceSendRequest{From: "news@sandbox.sendoka.com", Channel: sendoka.ChannelEmail, Template: "news",
			Variables: map[string]any{"issue": "May"}}
		one, err := b.c.UpsertContacts(ctx, b.p, a.ID, []sendoka.ContactInput{{Email: "one-more@example.com", FirstName: "One"}})
		require.NoError(t, err)

		_, err = b.c.SendToAudience(ctx, b.p, a.ID, req)
		e := requireCode(t, sendoka.CodeAudienceTooLarge, err)
		require.Contains(t, e.Message, "10001")
		require.Contains(t, e.Message, "split")
		_, err = b.c.GetAudienceSend(ctx, b.p, a.ID, "")
		requireCode(t, sendoka.CodeNotFound, err)

		// One unsubscribes: 10,000 is allowed.
		u, err := b.c.UnsubscribeURL(ctx, a.ID, one[0].Contact.ID)
		require.NoError(t, err)
		_, err = b.c.Unsubscribe(ctx, strings.TrimPrefix(u, publicURL+"/u/"))
		require.NoError(t, err)
		s, err := b.c.SendToAudience(ctx, b.p, a.ID, req)
		require.NoError(t, err)
		require.Equal(t, sendoka.MaxAudienceSend, s.Recipients)

		noURL := b.newClient(t)
		_, err = noURL.SendToAudience(ctx, b.p, a.ID, req)
		e = requireCode(t, sendoka.CodeValidation, err)
		require.Contains(t, e.Message, "unsubscribe")

		bad := *req
		bad.Template = "nope"
		_, err = b.c.SendToAudience(ctx, b.p, a.ID, &bad)
		requireCode(t, sendoka.CodeValidation, err)
		missing := *req
		missing.Variables = nil
		_, err = b.c.SendToAudience(ctx, b.p, a.ID, &missing)
		requireCode(t, sendoka.CodeTemplateMissingVariables, err)
	})
}

// TestBroadcastDoesNotDelayTransactional: while a broadcast's messages wait for a slow
// provider on the bulk queue, a transactional email sent meanwhile reaches the provider
// before the broadcast's backlog has drained: the two streams have workers of their own.
func TestBroadcastDoesNotDelayTransactional(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newAudienceBundle(t, db)
		ctx := context.Background()
		const n = 300
		a, _ := b.audience(t, n)
		b.fake.SetDelay(200 * time.Millisecond) // 300 × 200 ms over 50 bulk workers: over a second of backlog
		b.start(t)
		_, err := b.c.SendToAudience(ctx, b.p, a.ID, &sendoka.AudienceSendRequest{From: "news@sandbox.sendoka.com",
			Channel: sendoka.ChannelEmail, Template: "news", Variables: map[string]any{"issue": "June"}})
		require.NoError(t, err)
		broadcasts := func() int {
			k := 0
			for _, s := range b.fake.Sent() {
				if strings.HasPrefix(s.Email.To[0], "reader") {
					k++
				}
			}
			return k
		}
		pollUntil(t, func() bool { return broadcasts() > 0 }, "the broadcast starts")
		m, err := b.c.SendEmail(ctx, b.p, b.email("urgent@example.com"))
		require.NoError(t, err)
		pollUntil(t, func() bool { return b.fake.Count(m.ID) > 0 }, "the transactional email reaches the provider")
		require.Less(t, broadcasts(), n, "the transactional email did not wait for the broadcast")
		require.Equal(t, sendoka.StreamTransactional, b.get(t, sendoka.ChannelEmail, m.ID).StreamName())
	})
}

// chunkStore records the largest chunk the fan-out asks for.
type chunkStore struct {
	*bunstore.DB
	largest atomic.Int64
}

func (s *chunkStore) PendingRecipients(ctx context.Context, sendID, after string, limit int) ([]sendoka.PendingRecipient, error) {
	if int64(limit) > s.largest.Load() {
		s.largest.Store(int64(limit))
	}
	return s.DB.PendingRecipients(ctx, sendID, after, limit)
}

// TestFanoutChunkFollowsTheWriter: on SQLite, which takes one write at a time, the fan-out
// writes 250 messages per transaction, so a transactional send never waits long behind one;
// on Postgres, 500.
func TestFanoutChunkFollowsTheWriter(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newAudienceBundle(t, db)
		ctx := context.Background()
		store := &chunkStore{DB: db}
		c, err := sendoka.New(sendoka.Config{Store: store, Queue: b.queue, Clock: b.clock, Email: b.fake, SMS: b.fake,
			SandboxEmail: b.fake, SandboxSMS: b.fake, Tracking: sendoka.TrackingConfig{BaseURL: publicURL}})
		require.NoError(t, err)
		a, _ := b.audience(t, 150)
		s, err := c.SendToAudience(ctx, b.p, a.ID, &sendoka.AudienceSendRequest{From: "news@sandbox.sendoka.com",
			Channel: sendoka.ChannelEmail, Template: "news", Variables: map[string]any{"issue": "May"}})
		require.NoError(t, err)
		require.NoError(t, c.RunAudienceFanout(ctx, s.ID))
		msgs, reached := b.broadcastCounts(t, s.ID)
		require.Equal(t, 150, msgs)
		require.Equal(t, 150, reached)
		want := int64(500)
		if db.Dialect() == bunstore.DialectSQLite {
			want = 250
		}
		require.Equal(t, want, store.largest.Load())
	})
}
