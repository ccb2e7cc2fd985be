package sendoka_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// nodes returns n Clients on the bundle's database: one process each (Postgres), or the
// one process an SQLite file has.
func (b *domBundle) nodes(t *testing.T, n int) []*sendoka.Client {
	if b.db.Dialect() != bunstore.DialectPostgres {
		n = 1
	}
	out := []*sendoka.Client{b.client}
	for len(out) < n {
		out = append(out, b.node(t))
	}
	return out
}

// setLimits gives the org its own limits (nil: the plan's).
func (b *domBundle) setLimits(t *testing.T, plan string, burst, emails *int64) {
	t.Helper()
	u := sendoka.OrgUpdate{}
	if plan != "" {
		u.Plan = &plan
	}
	if burst != nil {
		u.BurstPerMinute = &burst
	}
	if emails != nil {
		u.MonthlyEmails = &emails
	}
	_, err := b.client.UpdateOrgSettings(context.Background(), b.root, u)
	require.NoError(t, err)
}

func ptr64(n int64) *int64 { return &n }

// TestBurstLimitAcrossNodes: a key limited to 600 requests a minute gets exactly 600 from
// three processes sharing the database (the clock stands still), whatever the interleaving;
// a second later it has earned 10 more.
func TestBurstLimitAcrossNodes(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDomBundle(t, db, nil)
		ctx := context.Background()
		b.setLimits(t, "", ptr64(600), nil)
		_, plain, err := b.client.CreateAPIKey(ctx, b.root, sendoka.CreateKeyParams{Mode: sendoka.ModeLive})
		require.NoError(t, err)
		nodes := b.nodes(t, 3)
		principals := make([]*sendoka.Principal, len(nodes))
		for i, n := range nodes {
			principals[i], err = n.Authenticate(ctx, plain, netip.Addr{})
			require.NoError(t, err)
		}
		drain := func() int64 {
			var allowed atomic.Int64
			var wg sync.WaitGroup
			for i, n := range nodes {
				for range 8 {
					wg.Go(func() {
						for {
							d, err := n.TakeRequest(ctx, principals[i])
							require.NoError(t, err)
							if !d.Allowed {
								require.Positive(t, d.RetryAfter)
								require.EqualValues(t, 600, d.Limit)
								return
							}
							allowed.Add(1)
						}
					})
				}
			}
			wg.Wait()
			return allowed.Load()
		}
		require.EqualValues(t, 600, drain(), "the burst, across %d processes", len(nodes))
		b.clock.add(time.Second)
		require.EqualValues(t, 10, drain(), "a second earns 600/60 requests back")

		// Library calls without a key are not limited.
		d, err := b.client.TakeRequest(ctx, b.root)
		require.NoError(t, err)
		require.True(t, d.Allowed)
	})
}

// TestQuotaExact: 10,000 concurrent live sends against a monthly quota of 5,000 accept
// exactly 5,000, across processes; the rest are USAGE_LIMIT_EXCEEDED until next month. Test
// keys and the sandbox domain do not count.
func TestQuotaExact(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		// A bootstrap domain: verified, and no warmup cap (not this test's subject).
		b := newDomBundle(t, db, func(c *sendoka.Config) { c.VerifiedDomains = []string{"quota.example"} })
		ctx := context.Background()
		b.setLimits(t, "", nil, ptr64(5000))
		nodes := b.nodes(t, 3)
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		sem := make(chan struct{}, 256)
		for i := range 10000 {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				_, err := nodes[i%len(nodes)].SendEmail(ctx, b.root, &sendoka.EmailRequest{
					From: "app@quota.example", To: []string{fmt.Sprintf("u%d@example.com", i)}, Subject: "Hi", Text: "x"})
				switch {
				case err == nil:
					ok.Add(1)
				case sendoka.ErrorCode(err) == sendoka.CodeUsageLimitExceeded:
					e := sendoka.AsError(err)
					require.EqualValues(t, 5000, e.Limit)
					require.Positive(t, e.RetryAfterSeconds)
					refused.Add(1)
				default:
					t.Errorf("send %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		require.EqualValues(t, 5000, ok.Load(), "exactly the quota")
		require.EqualValues(t, 5000, refused.Load())
		var stored int
		require.NoError(t, db.SQLDB().QueryRowContext(ctx, "SELECT count(*) FROM messages WHERE mode = 'live'").Scan(&stored))
		require.Equal(t, 5000, stored)

		test := b.principal(sendoka.ModeTest, "")
		require.NoError(t, b.send(b.client, test, "app@quota.example"), "test keys do not count")
		require.NoError(t, b.send(b.client, b.root, "app@sandbox.sendoka.com"), "nor does the sandbox domain")
		// A batch that would cross the quota fails its rows, not the call.
		res, err := b.client.SendEmailBulk(ctx, b.root, &sendoka.EmailRequest{From: "app@quota.example", To: []string{"a@example.com", "b@example.com"}, Subject: "Hi", Text: "x"})
		require.NoError(t, err)
		require.Equal(t, 2, res.Failed)
		require.Equal(t, sendoka.CodeUsageLimitExceeded, res.Rows[0].Err.Code)

		// Next month the quota renews.
		b.clock.add(31 * 24 * time.Hour)
		require.NoError(t, b.send(b.client, b.root, "app@quota.example"))
	})
}

// TestWarmupCaps: a newly verified domain sends 50 live messages on its first UTC day, 100
// on the next, and without a cap once the schedule is over; a batch is cut at the cap row by
// row; test keys are not capped, nor are the installation's bootstrap domains.
func TestWarmupCaps(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDomBundle(t, db, func(c *sendoka.Config) { c.VerifiedDomains = []string{"boot.example"} })
		ctx := context.Background()
		d := b.verified(t, b.root, "new.example")
		sendAll := func(n int) (ok, capped int) {
			for range n {
				err := b.send(b.client, b.root, "app@new.example")
				switch {
				case err == nil:
					ok++
				case sendoka.ErrorCode(err) == sendoka.CodeWarmupLimitExceeded:
					e := sendoka.AsError(err)
					require.EqualValues(t, []int64{50, 100}[min(ok/100, 1)], e.Limit)
					require.Positive(t, e.RetryAfterSeconds)
					capped++
				default:
					t.Fatalf("send: %v", err)
				}
			}
			return ok, capped
		}
		ok, capped := sendAll(60)
		require.Equal(t, 50, ok, "day 0: 50")
		require.Equal(t, 10, capped)
		w, err := b.client.Warmup(ctx, d)
		require.NoError(t, err)
		require.Equal(t, sendoka.WarmupStatus{Day: 0, CapToday: 50, SentToday: 50}, w)
		require.NoError(t, b.send(b.client, b.principal(sendoka.ModeTest, ""), "app@new.example"), "test keys are not capped")
		for range 60 {
			require.NoError(t, b.send(b.client, b.root, "app@boot.example"), "a bootstrap domain is not capped")
		}

		b.clock.add(24 * time.Hour)
		res, err := b.client.SendEmailBulk(ctx, b.root, &sendoka.EmailRequest{From: "app@new.example", To: bulkTo(100), Subject: "Hi", Text: "x"})
		require.NoError(t, err)
		require.Equal(t, 100, res.Succeeded, "day 1: 100")
		res, err = b.client.SendEmailBulk(ctx, b.root, &sendoka.EmailRequest{From: "app@new.example", To: bulkTo(3), Subject: "Hi", Text: "x"})
		require.NoError(t, err)
		require.Equal(t, 3, res.Failed)
		require.Equal(t, sendoka.CodeWarmupLimitExceeded, res.Rows[2].Err.Code)

		b.clock.add(8 * 24 * time.Hour)
		w, err = b.client.Warmup(ctx, d)
		require.NoError(t, err)
		require.True(t, w.Done, "past the schedule: %+v", w)
		ok, capped = sendAll(120)
		require.Equal(t, 120, ok)
		require.Zero(t, capped)
	})
}

func bulkTo(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("r%d@example.com", i)
	}
	return out
}

// TestUsageReport: usage counts the caller's mode only, by channel and status, groups by
// tag, day and tenant, and shows a Pro plan's quota and overage.
func TestUsageReport(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDomBundle(t, db, nil)
		ctx := context.Background()
		b.setLimits(t, "pro", nil, ptr64(2))
		b.verified(t, b.root, "use.example")
		send := func(p *sendoka.Principal, tags ...string) {
			_, err := b.client.SendEmail(ctx, p, &sendoka.EmailRequest{From: "app@use.example", To: []string{"u@example.com"}, Subject: "Hi", Text: "x", Tags: tags})
			require.NoError(t, err)
		}
		send(b.root, "welcome")
		send(b.root, "welcome", "promo")
		send(b.root)
		b.clock.add(24 * time.Hour)
		send(b.root, "promo")
		send(b.principal(sendoka.ModeTest, ""), "welcome")

		u, err := b.client.Usage(ctx, b.root, sendoka.UsageQuery{GroupBy: "tag"})
		require.NoError(t, err)
		require.Equal(t, sendoka.ModeLive, u.Mode)
		require.EqualValues(t, 4, u.Email.Accepted, "live only; past the quota of 2 with Pro's overage")
		require.EqualValues(t, 2, u.Email.Quota)
		require.EqualValues(t, 2, u.Email.Overage)
		require.Equal(t, []sendoka.UsageGroup{
			{Key: "promo", Email: sendoka.UsageCounts{Accepted: 2}},
			{Key: "welcome", Email: sendoka.UsageCounts{Accepted: 2}},
		}, u.Series)

		u, err = b.client.Usage(ctx, b.root, sendoka.UsageQuery{GroupBy: "day"})
		require.NoError(t, err)
		require.Len(t, u.Series, 2)
		require.EqualValues(t, 3, u.Series[0].Email.Accepted)
		require.EqualValues(t, 1, u.Series[1].Email.Accepted)

		tu, err := b.client.Usage(ctx, b.principal(sendoka.ModeTest, ""), sendoka.UsageQuery{})
		require.NoError(t, err)
		require.EqualValues(t, 1, tu.Email.Accepted, "test traffic apart")
		require.Zero(t, tu.Email.Quota, "and never against the quota")

		_, err = b.client.Usage(ctx, b.root, sendoka.UsageQuery{GroupBy: "week"})
		requireCode(t, sendoka.CodeValidation, err)
		_, err = b.client.Usage(ctx, b.root, sendoka.UsageQuery{From: b.clock.Now(), To: b.clock.Now().Add(-time.Hour)})
		requireCode(t, sendoka.CodeValidation, err)
	})
}

// TestOrgSettings: only an org-wide live full-access principal changes the plan and limits;
// the change applies at once in its process.
func TestOrgSettings(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDomBundle(t, db, nil)
		ctx := context.Background()
		s, err := b.client.GetOrgSettings(ctx, b.root)
		require.NoError(t, err)
		require.Equal(t, sendoka.DefaultPlanName, s.Limits.Plan, "a self-hosted org starts on enterprise")
		require.EqualValues(t, 6000, s.Limits.BurstPerMinute)
		pro := "pro"
		for _, p := range []*sendoka.Principal{b.principal(sendoka.ModeTest, ""), b.principal(sendoka.ModeLive, "ten_x"),
			{OrgID: b.orgID, Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionAPIKeysWrite}}} {
			_, err := b.client.UpdateOrgSettings(ctx, p, sendoka.OrgUpdate{Plan: &pro})
			requireCode(t, sendoka.CodeInsufficientScope, err)
		}
		bad := "platinum"
		_, err = b.client.UpdateOrgSettings(ctx, b.root, sendoka.OrgUpdate{Plan: &bad})
		requireCode(t, sendoka.CodeValidation, err)
		s, err = b.client.UpdateOrgSettings(ctx, b.root, sendoka.OrgUpdate{Plan: &pro})
		require.NoError(t, err)
		require.Equal(t, "pro", s.Limits.Plan)
		require.EqualValues(t, 600, s.Limits.BurstPerMinute)
		require.True(t, s.Limits.Overage)
		b.setLimits(t, "", ptr64(7), nil)
		s, err = b.client.GetOrgSettings(ctx, b.root)
		require.NoError(t, err)
		require.EqualValues(t, 7, s.Limits.BurstPerMinute, "the org's own limit over the plan's")
	})
}

// TestTenantQuota: a tenant's own monthly cap holds its live sends beside the org's quota;
// another tenant is not affected, and removing the cap lifts it.
func TestTenantQuota(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDomBundle(t, db, nil)
		ctx := context.Background()
		capped, err := b.client.CreateTenant(ctx, b.root, &sendoka.TenantRequest{Name: "Capped", Slug: "capped", MonthlyEmails: 3})
		require.NoError(t, err)
		free, err := b.client.CreateTenant(ctx, b.root, &sendoka.TenantRequest{Name: "Free", Slug: "free"})
		require.NoError(t, err)
		pc, pf := b.principal(sendoka.ModeLive, capped.ID), b.principal(sendoka.ModeLive, free.ID)
		b.verified(t, pc, "capped.example")
		b.verified(t, pf, "free.example")
		var ok, refused int
		for range 5 {
			err := b.send(b.client, pc, "app@capped.example")
			switch sendoka.ErrorCode(err) {
			case "":
				ok++
			case sendoka.CodeUsageLimitExceeded:
				require.Contains(t, err.Error(), "tenant "+capped.ID)
				refused++
			default:
				t.Fatal(err)
			}
		}
		require.Equal(t, 3, ok)
		require.Equal(t, 2, refused)
		for range 5 {
			require.NoError(t, b.send(b.client, pf, "app@free.example"), "another tenant has no cap")
		}
		require.NoError(t, b.send(b.client, b.principal(sendoka.ModeTest, capped.ID), "app@capped.example"), "test keys do not count")

		zero := int64(0)
		_, err = b.client.UpdateTenant(ctx, b.root, capped.ID, &sendoka.TenantUpdate{MonthlyEmails: &zero})
		require.NoError(t, err)
		b.clock.add(2 * time.Second) // past the cache of tenants' caps
		require.NoError(t, b.send(b.client, pc, "app@capped.example"), "no cap any more")
		_, err = b.client.CreateTenant(ctx, b.root, &sendoka.TenantRequest{Name: "Bad", Slug: "bad", MonthlyEmails: -1})
		requireCode(t, sendoka.CodeValidation, err)
	})
}

// TestSenderDailyCap: an SMS sender with a daily cap sends that many live SMS a UTC day;
// test keys are not capped; the next day it sends again.
func TestSenderDailyCap(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDomBundle(t, db, nil)
		ctx := context.Background()
		pn, err := b.client.CreatePhoneNumber(ctx, b.root, &sendoka.PhoneNumberRequest{Kind: sendoka.SenderAlphanumeric, SenderID: "Capped", ISOCountry: "GB", DailyCap: 2})
		require.NoError(t, err)
		require.EqualValues(t, 2, pn.DailyCap)
		sms := func(p *sendoka.Principal) error {
			_, err := b.client.SendSMS(ctx, p, &sendoka.SMSRequest{From: "Capped", To: "+447700900123", Body: "hi"})
			return err
		}
		require.NoError(t, sms(b.root))
		require.NoError(t, sms(b.root))
		err = sms(b.root)
		e := requireCode(t, sendoka.CodeWarmupLimitExceeded, err)
		require.Equal(t, "sender", e.LimitScope)
		require.EqualValues(t, 2, e.Limit)
		require.Contains(t, e.Message, "Capped")
		require.NoError(t, sms(b.principal(sendoka.ModeTest, "")), "test keys are not capped")
		b.clock.add(24 * time.Hour)
		require.NoError(t, sms(b.root), "a new day")
		_, err = b.client.CreatePhoneNumber(ctx, b.root, &sendoka.PhoneNumberRequest{Kind: sendoka.SenderAlphanumeric, SenderID: "Bad", ISOCountry: "GB", DailyCap: -1})
		requireCode(t, sendoka.CodeValidation, err)
	})
}
