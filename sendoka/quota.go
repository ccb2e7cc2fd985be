package sendoka

import (
	"context"
	"sync"
	"time"
)

// The monthly quota: an org on a plan with a monthly limit and without overage may accept
// that many live messages per channel and calendar month (UTC); test keys and the sandbox
// domain (nothing delivered) never count. The
// count lives in the database (Counter{Kind: CounterQuota}), so it holds across processes,
// and is reserved in blocks so that an org's sends do not all wait on one row: a process
// reserves up to 1/16 of what is left (at most 100) and hands it out from memory, and one
// message at a time once little is left. A message is counted when it is accepted; one that
// fails to commit gives its place back. So concurrent sends against a quota accept exactly
// the quota while demand lasts; what a process holds when it stops (at most one block) is
// lost for the month.

// quotaPockets holds the quota this process reserved and has not handed out.
type quotaPockets struct {
	mu      sync.Mutex
	pockets map[Counter]*quotaPocket
}

type quotaPocket struct {
	mu       sync.Mutex
	tokens   int64
	lastLeft int64 // what the database had left at the last reservation
}

func (q *quotaPockets) get(c Counter) *quotaPocket {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pockets == nil {
		q.pockets = map[Counter]*quotaPocket{}
	}
	p := q.pockets[c]
	if p == nil {
		for k := range q.pockets {
			if k.Period != c.Period { // last month's
				delete(q.pockets, k)
			}
		}
		p = &quotaPocket{lastLeft: -1}
		q.pockets[c] = p
	}
	return p
}

// quotaPeriod is the calendar month of t in UTC, "2026-12".
func quotaPeriod(t time.Time) string { return t.UTC().Format("2006-01") }

// nextMonth is the start of the month after t's, UTC.
func nextMonth(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
}

// quotaGrant is what reserveQuota handed out: give back what was not used.
type quotaGrant struct {
	c       *Client
	counter Counter
	n       int64
}

// release gives back n of the grant (messages that were not accepted after all).
func (g *quotaGrant) release(n int) {
	if g == nil || n <= 0 {
		return
	}
	pk := g.c.quotas.get(g.counter)
	pk.mu.Lock()
	pk.tokens += int64(min(int64(n), g.n))
	pk.mu.Unlock()
}

// reserveQuota takes n messages from the principal's monthly quota on ch and returns how
// many it may send (a prefix of n) and the grant to release unused places into. A refusal
// is CodeUsageLimitExceeded with the time the quota renews.
func (c *Client) reserveQuota(ctx context.Context, p *Principal, ch Channel, n int) (int, *quotaGrant, error) {
	if n <= 0 || p.Mode != ModeLive || c.limitsOff {
		return n, nil, nil
	}
	l, err := c.orgLimits(ctx, p.OrgID)
	if err != nil {
		return 0, nil, err
	}
	limit := l.Monthly(ch)
	if limit <= 0 || l.Overage {
		return n, nil, nil
	}
	return c.reserveCounter(ctx, Counter{Kind: CounterQuota, Subject: p.OrgID, Channel: ch, Period: quotaPeriod(c.now())}, limit, n, "")
}

// reserveCounter takes n places from a monthly counter with that limit, through this
// process's pocket of it. who names the quota in a refusal ("" for the org's).
func (c *Client) reserveCounter(ctx context.Context, counter Counter, limit int64, n int, who string) (int, *quotaGrant, error) {
	now := c.now()
	pk := c.quotas.get(counter)
	pk.mu.Lock()
	defer pk.mu.Unlock()
	if pk.tokens < int64(n) {
		need := int64(n) - pk.tokens
		block := need
		if pk.lastLeft < 0 || pk.lastLeft > 16*need {
			left := pk.lastLeft
			if left < 0 {
				left = limit
			}
			block = min(max(need, left/16), need+100)
		}
		granted, used, err := c.store.ReserveCount(ctx, counter, block, limit)
		if err != nil {
			return 0, nil, AsError(err)
		}
		pk.tokens += granted
		pk.lastLeft = limit - used
	}
	got := min(int64(n), pk.tokens)
	pk.tokens -= got
	if got == 0 {
		e := usageExceeded(counter.Channel, limit, nextMonth(now), now)
		if who != "" {
			e.Message = who + ": " + e.Message
			e.LimitScope = "tenant"
		}
		return 0, nil, e
	}
	return int(got), &quotaGrant{c: c, counter: counter, n: got}, nil
}

// tenantCaps returns a tenant's own monthly cap on ch (0: none), read at most once a second.
func (c *Client) tenantCap(ctx context.Context, orgID, tenantID string, ch Channel) (int64, error) {
	now := c.clock.Now()
	c.tenantCaps.mu.Lock()
	hit, ok := c.tenantCaps.m[tenantID]
	c.tenantCaps.mu.Unlock()
	if !ok || !within(now, hit.at, limitsCacheTTL) {
		t, err := c.store.GetTenant(ctx, Scope{OrgID: orgID}, tenantID)
		switch {
		case ErrorCode(err) == CodeNotFound:
			// No such tenant row (a library caller's own tenant ids): no cap of its own.
			t = &Tenant{}
		case err != nil:
			return 0, AsError(err)
		}
		hit = cachedTenantCaps{emails: t.MonthlyEmails, sms: t.MonthlySMS, at: now}
		c.tenantCaps.mu.Lock()
		if c.tenantCaps.m == nil || len(c.tenantCaps.m) > 10000 {
			c.tenantCaps.m = map[string]cachedTenantCaps{}
		}
		c.tenantCaps.m[tenantID] = hit
		c.tenantCaps.mu.Unlock()
	}
	if ch == ChannelSMS {
		return hit.sms, nil
	}
	return hit.emails, nil
}

// tenantCapsCache holds tenants' own monthly caps for a second.
type tenantCapsCache struct {
	mu sync.Mutex
	m  map[string]cachedTenantCaps
}

type cachedTenantCaps struct {
	emails, sms int64
	at          time.Time
}

// usageExceeded is the refusal of a send past the monthly quota.
func usageExceeded(ch Channel, limit int64, renews, now time.Time) *Error {
	wait := renews.Sub(now)
	return &Error{Code: CodeUsageLimitExceeded,
		Message: "the monthly quota of " + itoa(limit) + " " + channelNoun(ch) + " is used up; it renews at " +
			renews.Format(time.RFC3339) + " (or change the plan: PATCH /api/v1/org)",
		RetryAfterSeconds: RetryAfterSeconds(wait), Retry: wait, Limit: limit, LimitScope: "org"}
}

func channelNoun(ch Channel) string {
	if ch == ChannelSMS {
		return "SMS"
	}
	return "emails"
}

// QuotaUse is an org's use of its monthly quota on one channel in the current month.
type QuotaUse struct {
	OrgID   string
	Channel Channel
	// Used is what the org's live messages have taken of the quota this month: what the
	// processes reserved from it, which runs ahead of the messages accepted by at most one
	// block per process (see reserveCounter).
	Used int64
	// Limit is the monthly quota.
	Limit int64
}

// QuotaUsage returns the quota use of every org whose plan has a monthly quota that it may
// not exceed (no overage), per channel with a quota, for metrics. Nothing when limits are
// off.
func (c *Client) QuotaUsage(ctx context.Context) ([]QuotaUse, error) {
	if c.limitsOff {
		return nil, nil
	}
	orgs, err := c.store.ListOrgs(ctx)
	if err != nil {
		return nil, AsError(err)
	}
	period := quotaPeriod(c.now())
	var out []QuotaUse
	for _, o := range orgs {
		l := c.plans.effective(o)
		if l.Overage {
			continue
		}
		for _, ch := range []Channel{ChannelEmail, ChannelSMS} {
			limit := l.Monthly(ch)
			if limit <= 0 {
				continue
			}
			used, err := c.store.GetCount(ctx, Counter{Kind: CounterQuota, Subject: o.ID, Channel: ch, Period: period})
			if err != nil {
				return nil, AsError(err)
			}
			out = append(out, QuotaUse{OrgID: o.ID, Channel: ch, Used: used, Limit: limit})
		}
	}
	return out, nil
}
