package sendoka_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

func TestEmailBatch(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		_, err := b.client.CreateTemplate(ctx, b.p, &sendoka.TemplateRequest{Slug: "hi", Channel: sendoka.ChannelEmail, Subject: "Hi {{name}}", Text: "Hello {{name}}"})
		require.NoError(t, err)

		multi := b.email("a@example.com")
		multi.To = append(multi.To, "b@example.com")
		multi.Cc = []string{"c@example.com"}
		badAddr := b.email("not-an-address")
		tpl := b.email("t@example.com")
		tpl.Subject, tpl.Text, tpl.Template, tpl.Variables = "", "", "hi", map[string]any{"name": "Tia"}
		missing := b.email("m@example.com")
		missing.Subject, missing.Text, missing.Template = "", "", "hi"
		sched := b.email("s@example.com")
		sched.ScheduledAt = b.clock.in(time.Hour)

		res, err := b.client.SendEmailBatch(ctx, b.p, []*sendoka.EmailRequest{multi, badAddr, tpl, missing, sched})
		require.NoError(t, err)
		require.Equal(t, 3, res.Succeeded)
		require.Equal(t, 2, res.Failed)
		require.Len(t, res.Rows, 5)
		for i, row := range res.Rows {
			require.Equal(t, i, row.Index)
		}
		require.Equal(t, [][]any{{"to", 0}}, paths(res.Rows[1].Err))
		require.Nil(t, res.Rows[1].Message)
		require.Equal(t, sendoka.CodeTemplateMissingVariables, res.Rows[3].Err.Code)
		require.Equal(t, [][]any{{"variables", "name"}}, paths(res.Rows[3].Err))

		// The accepted rows are stored with their jobs; the per-item shape keeps their headers.
		jobs := map[int64]bool{}
		for _, i := range []int{0, 2, 4} {
			m := b.get(t, sendoka.ChannelEmail, res.Rows[i].Message.ID)
			require.NotZero(t, m.JobID)
			require.False(t, jobs[m.JobID], "one job per message")
			jobs[m.JobID] = true
			_ = b.jobState(t, m.JobID) // exists
		}
		first := b.get(t, sendoka.ChannelEmail, res.Rows[0].Message.ID)
		require.Equal(t, []string{"a@example.com", "b@example.com"}, first.Email.To)
		require.Equal(t, []string{"c@example.com"}, first.Email.Cc)
		require.Equal(t, "Hi Tia", b.get(t, sendoka.ChannelEmail, res.Rows[2].Message.ID).Email.Subject)
		last := b.get(t, sendoka.ChannelEmail, res.Rows[4].Message.ID)
		require.Equal(t, sendoka.StatusScheduled, last.Status)
		require.Equal(t, "scheduled", b.jobState(t, last.JobID))

		// Whole-call problems accept nothing.
		many := make([]*sendoka.EmailRequest, sendoka.MaxBatch+1)
		for i := range many {
			many[i] = b.email(fmt.Sprintf("u%d@example.com", i))
		}
		_, err = b.client.SendEmailBatch(ctx, b.p, many)
		e := requireCode(t, sendoka.CodeValidation, err)
		require.Contains(t, e.Message, "at most 100")
		_, err = b.client.SendEmailBatch(ctx, b.p, nil)
		requireCode(t, sendoka.CodeValidation, err)
		smsOnly := &sendoka.Principal{OrgID: b.orgID, Mode: sendoka.ModeTest, Permissions: []sendoka.Permission{sendoka.PermissionSMSSend}}
		_, err = b.client.SendEmailBatch(ctx, smsOnly, many[:1])
		requireCode(t, sendoka.CodeInsufficientScope, err)
		list, err := b.client.ListMessages(ctx, b.p, sendoka.ChannelEmail, sendoka.ListParams{Limit: 100})
		require.NoError(t, err)
		require.Len(t, list.Messages, 3)

		// A full batch of 100 goes through in one call.
		res, err = b.client.SendEmailBatch(ctx, b.p, many[:sendoka.MaxBatch])
		require.NoError(t, err)
		require.Equal(t, sendoka.MaxBatch, res.Succeeded)
	})
}

func TestEmailBulk(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		b.start(t)

		req := b.email("")
		req.To = make([]string, sendoka.MaxBatch)
		for i := range req.To {
			req.To[i] = fmt.Sprintf("r%d@example.com", i)
		}
		req.To[42] = "broken"
		req.Tags = []string{"bulk"}
		res, err := b.client.SendEmailBulk(ctx, b.p, req)
		require.NoError(t, err)
		require.Equal(t, sendoka.MaxBatch-1, res.Succeeded)
		require.Equal(t, 1, res.Failed)
		require.Equal(t, [][]any{{"to", 42}}, paths(res.Rows[42].Err), "the path names the recipient of the call")

		// One message per recipient, each with its own id, alone in To.
		seen := map[string]bool{}
		for i, row := range res.Rows {
			if i == 42 {
				continue
			}
			require.False(t, seen[row.Message.ID])
			seen[row.Message.ID] = true
			require.Equal(t, []string{req.To[i]}, row.Message.Email.To)
		}
		require.NoError(t, b.fake.WaitFor(ctx, sendoka.MaxBatch-1))
		for _, s := range b.fake.Sent() {
			require.Len(t, s.Email.To, 1, "recipients do not see each other")
		}

		// Cc/Bcc would be copied to everyone; too many recipients; none.
		bad := []func(r *sendoka.EmailRequest){
			func(r *sendoka.EmailRequest) { r.Cc = []string{"boss@example.com"} },
			func(r *sendoka.EmailRequest) { r.Bcc = []string{"boss@example.com"} },
			func(r *sendoka.EmailRequest) { r.To = append(r.To, "one-more@example.com") },
			func(r *sendoka.EmailRequest) { r.To = nil },
		}
		for i, mod := range bad {
			r := *req
			mod(&r)
			_, err := b.client.SendEmailBulk(ctx, b.p, &r)
			requireCode(t, sendoka.CodeValidation, err)
			require.NotEmpty(t, paths(err), "case %d", i)
		}
	})
}

// countingStore is the real store, counting its suppression lookups.
type countingStore struct {
	sendoka.Store
	suppressionLookups atomic.Int64
}

func (s *countingStore) GetSuppressions(ctx context.Context, orgID, tenantID string, ch sendoka.Channel, addresses []string) ([]*sendoka.Suppression, error) {
	s.suppressionLookups.Add(1)
	return s.Store.GetSuppressions(ctx, orgID, tenantID, ch, addresses)
}

// TestBatchSuppression: a batch applies the suppression list to each row as a single send
// would, with one lookup for the whole call.
func TestBatchSuppression(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		store := &countingStore{Store: db}
		c, err := sendoka.New(sendoka.Config{Store: store, Queue: b.queue, Clock: b.clock, SandboxEmail: b.fake, SandboxSMS: b.fake})
		require.NoError(t, err)
		for _, addr := range []string{"gone@example.com", "Also.Gone@Example.com"} {
			_, err := c.Suppress(ctx, b.p, sendoka.ChannelEmail, addr)
			require.NoError(t, err)
		}

		req := b.email("")
		req.To = []string{"a@example.com", "gone@example.com", "b@example.com", "also.gone@example.com"}
		res, err := c.SendEmailBulk(ctx, b.p, req)
		require.NoError(t, err)
		require.Equal(t, int64(1), store.suppressionLookups.Load(), "one lookup for the call")
		require.Equal(t, 2, res.Succeeded)
		for _, i := range []int{1, 3} {
			require.Equal(t, sendoka.CodeAllSuppressed, res.Rows[i].Err.Code, "row %d", i)
		}

		// Per item: a suppressed cc is dropped, the rest goes.
		mixed := b.email("c@example.com")
		mixed.Cc = []string{"gone@example.com"}
		store.suppressionLookups.Store(0)
		res, err = c.SendEmailBatch(ctx, b.p, []*sendoka.EmailRequest{mixed, b.email("gone@example.com"), b.email("d@example.com")})
		require.NoError(t, err)
		require.Equal(t, int64(1), store.suppressionLookups.Load())
		require.Equal(t, 2, res.Succeeded)
		require.Equal(t, sendoka.CodeAllSuppressed, res.Rows[1].Err.Code)
		got := b.get(t, sendoka.ChannelEmail, res.Rows[0].Message.ID)
		require.Equal(t, []string{"c@example.com"}, got.Email.To)
		require.Empty(t, got.Email.Cc)

		// A single send still checks on its own.
		store.suppressionLookups.Store(0)
		_, err = c.SendEmail(ctx, b.p, b.email("gone@example.com"))
		requireCode(t, sendoka.CodeAllSuppressed, err)
		require.Equal(t, int64(1), store.suppressionLookups.Load())
	})
}

// TestBatchDatabaseOutage: a database that does not answer fails the whole call with
// SERVICE_UNAVAILABLE; it is never reported row by row inside a success.
func TestBatchDatabaseOutage(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		_, err := b.client.CreateTemplate(context.Background(), b.p, &sendoka.TemplateRequest{Slug: "hi", Channel: sendoka.ChannelEmail, Subject: "Hi", Text: "Hello"})
		require.NoError(t, err)
		tpl := b.email("t@example.com")
		tpl.Subject, tpl.Text, tpl.Template = "", "", "hi"
		// A deadline already past is how an outage reaches the core: every database call
		// ends in CodeUnavailable.
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		tpl2 := *tpl
		tpl2.To = []string{"u@example.com"}
		// Every row reads its template, so every row meets the outage before any insert.
		res, err := b.client.SendEmailBatch(ctx, b.p, []*sendoka.EmailRequest{tpl, &tpl2})
		requireCode(t, sendoka.CodeUnavailable, err)
		require.Nil(t, res)
		page, err := b.client.ListMessages(context.Background(), b.p, sendoka.ChannelEmail, sendoka.ListParams{})
		require.NoError(t, err)
		require.Empty(t, page.Messages, "nothing accepted")
	})
}
