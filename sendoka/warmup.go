package sendoka

import (
	"context"
	"slices"
	"strconv"
	"time"
)

// Domain warmup: mailbox providers distrust a new domain that sends a lot at once, so a
// domain that has just been verified may send only so many live messages a UTC day, growing
// day by day on a schedule (Config.Warmup); past the schedule there is no cap. The count is
// kept in the database per domain and day (Counter{Kind: CounterWarmup}), one message at a
// time, so it is exact across processes; only domains still warming up pay for it. The
// sandbox domain, test keys, unverified domains (which only test keys send from) and the
// domains of Config.VerifiedDomains (SENDOKA_BOOTSTRAP_DOMAINS: an installation's domains
// that already send) are never capped.

// DefaultWarmupSchedule is the daily cap of a domain's first days after verification: 50
// on the day it is verified, then 100, 200, 500, 1,000, 2,000, 5,000 and 10,000; unlimited
// from the ninth day.
var DefaultWarmupSchedule = []int64{50, 100, 200, 500, 1000, 2000, 5000, 10000}

// WarmupConfig tunes domain warmup.
type WarmupConfig struct {
	// Schedule is the daily cap of each day since a domain was verified (day 0 is the UTC
	// day of its verification). Default: DefaultWarmupSchedule.
	Schedule []int64
	// Off turns warmup off: verified domains send without a daily cap.
	Off bool
}

// WarmupStatus is where a domain is in its warmup.
type WarmupStatus struct {
	// Day is the day of the warmup (0 on the day of verification).
	Day int
	// CapToday is today's cap; 0 when the domain is past its warmup (no cap).
	CapToday int64
	// SentToday is how many live messages it sent today, counting only while capped.
	SentToday int64
	// Done reports that the warmup is over.
	Done bool
	// Off reports that warmup is off (WarmupConfig.Off): no domain is capped.
	Off bool
}

// warmupCap returns the cap of day for a domain, and whether there is one.
func (c *Client) warmupCap(d *Domain, now time.Time) (day int, limit int64, capped bool) {
	if c.warmup.Off || d.VerifiedAt == nil || (d.TenantID == "" && slices.Contains(c.bootDomains, d.Name)) {
		return 0, 0, false
	}
	day = utcDays(*d.VerifiedAt, now)
	if day < 0 || day >= len(c.warmup.Schedule) {
		return max(day, 0), 0, false
	}
	return day, c.warmup.Schedule[day], true
}

// utcDays counts the UTC calendar days from a to b.
func utcDays(a, b time.Time) int {
	da := time.Date(a.UTC().Year(), a.UTC().Month(), a.UTC().Day(), 0, 0, 0, 0, time.UTC)
	db := time.Date(b.UTC().Year(), b.UTC().Month(), b.UTC().Day(), 0, 0, 0, 0, time.UTC)
	return int(db.Sub(da).Hours() / 24)
}

// utcDay is t's UTC day, "2026-12-04".
func utcDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// nextUTCDay is the start of the UTC day after t's.
func nextUTCDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
}

// Warmup returns a domain's warmup status now.
func (c *Client) Warmup(ctx context.Context, d *Domain) (WarmupStatus, error) {
	if c.warmup.Off {
		return WarmupStatus{Off: true}, nil
	}
	now := c.now()
	day, limit, capped := c.warmupCap(d, now)
	st := WarmupStatus{Day: day, CapToday: limit, Done: !capped && d.VerifiedAt != nil}
	if !capped {
		return st, nil
	}
	n, err := c.store.GetCount(ctx, Counter{Kind: CounterWarmup, Subject: d.ID, Period: utcDay(now)})
	if err != nil {
		return st, AsError(err)
	}
	st.SentToday = n
	return st, nil
}

// admission is what admit reserved for the messages it let through: their places in the
// monthly quota and in their domains' warmup caps, to give back for those not accepted.
type admission struct {
	c      *Client
	quota  *quotaGrant
	tenant *quotaGrant // the tenant's own cap
	warmup map[Counter][]*Message
}

// admit applies the monthly quota and the warmup caps to messages about to be accepted,
// all of one principal (batch rows, or one send). It returns the refused messages with
// their errors (CodeWarmupLimitExceeded, CodeUsageLimitExceeded) and the admission to
// release what was not used; an error is a storage failure, for the whole call.
func (c *Client) admit(ctx context.Context, msgs []*Message) (map[*Message]error, *admission, error) {
	a := &admission{c: c}
	refused := map[*Message]error{}
	if len(msgs) == 0 || c.limitsOff {
		return refused, a, nil
	}
	now := c.now()
	// Warmup, per domain of the live email.
	byCounter := map[Counter][]*Message{}
	caps := map[Counter]int64{}
	for _, m := range msgs {
		if m.Mode != ModeLive || c.isSandboxSender(m) {
			continue
		}
		if m.SMS != nil {
			// An SMS sender's own daily cap.
			if m.senderDailyCap > 0 {
				k := Counter{Kind: CounterSenderDay, Subject: m.SMS.PhoneNumberID, Period: utcDay(now)}
				byCounter[k] = append(byCounter[k], m)
				caps[k] = m.senderDailyCap
			}
			continue
		}
		if m.Email == nil {
			continue
		}
		d, err := c.domains.find(ctx, m.OrgID, m.TenantID, addressDomain(m.Email.From))
		if err != nil {
			return nil, nil, err
		}
		if d == nil || d.Status != DomainVerified {
			continue
		}
		if _, limit, capped := c.warmupCap(d, now); capped {
			k := Counter{Kind: CounterWarmup, Subject: d.ID, Period: utcDay(now)}
			byCounter[k] = append(byCounter[k], m)
			caps[k] = limit
		}
	}
	for k, list := range byCounter {
		granted, _, err := c.store.ReserveCount(ctx, k, int64(len(list)), caps[k])
		if err != nil {
			a.release(nil)
			return nil, nil, AsError(err)
		}
		if granted > 0 {
			if a.warmup == nil {
				a.warmup = map[Counter][]*Message{}
			}
			a.warmup[k] = list[:granted]
		}
		renews := nextUTCDay(now)
		for _, m := range list[granted:] {
			var msg, scope string
			if k.Kind == CounterSenderDay {
				scope = "sender"
				msg = "the sender " + m.SMS.From + " has sent its daily cap of " + itoa(caps[k]) +
					" live SMS; it resets at " + renews.Format(time.RFC3339)
			} else {
				scope = "domain"
				msg = "the domain of " + m.Email.From + " is warming up: today's cap of " + itoa(caps[k]) +
					" live messages is reached; it grows tomorrow (" + renews.Format(time.RFC3339) + ")"
			}
			refused[m] = &Error{Code: CodeWarmupLimitExceeded, Message: msg, LimitScope: scope,
				RetryAfterSeconds: RetryAfterSeconds(renews.Sub(now)), Retry: renews.Sub(now), Limit: caps[k]}
		}
	}
	// The monthly quota, per channel, for the rest that a live provider will carry (test
	// keys and the sandbox domain cost nothing).
	byChannel := map[Channel][]*Message{}
	for _, m := range msgs {
		if refused[m] == nil && !c.isSandboxSender(m) {
			byChannel[m.Channel] = append(byChannel[m.Channel], m)
		}
	}
	for ch, list := range byChannel {
		// A tenant's own cap first (a batch is one principal's: one tenant), then the org's.
		if tenantID := list[0].TenantID; tenantID != "" {
			limit, err := c.tenantCap(ctx, list[0].OrgID, tenantID, ch)
			if err != nil {
				a.release(nil)
				return nil, nil, err
			}
			if limit > 0 {
				got, grant, err := c.reserveCounter(ctx, Counter{Kind: CounterQuota, Subject: tenantID, Channel: ch, Period: quotaPeriod(now)}, limit, len(list), "tenant "+tenantID)
				if err != nil && ErrorCode(err) != CodeUsageLimitExceeded {
					a.release(nil)
					return nil, nil, err
				}
				a.tenant = grant
				for _, m := range list[got:] {
					if err == nil {
						e := usageExceeded(ch, limit, nextMonth(now), now)
						e.Message, e.LimitScope = "tenant "+tenantID+": "+e.Message, "tenant"
						err = e
					}
					refused[m] = err
				}
				list = list[:got]
				if len(list) == 0 {
					continue
				}
			}
		}
		p := &Principal{OrgID: list[0].OrgID, Mode: list[0].Mode}
		got, grant, err := c.reserveQuota(ctx, p, ch, len(list))
		if err != nil && ErrorCode(err) != CodeUsageLimitExceeded {
			a.release(nil)
			return nil, nil, err
		}
		if grant != nil {
			if a.quota != nil {
				// Both channels in one call cannot happen (a batch is one channel); keep the
				// first grant's bookkeeping simple.
				a.quota.release(0)
			}
			a.quota = grant
		}
		for _, m := range list[got:] {
			if err == nil {
				l, _ := c.orgLimits(ctx, m.OrgID)
				err = usageExceeded(ch, l.Monthly(ch), nextMonth(now), now)
			}
			refused[m] = err
		}
		// Places the tenant's cap gave to messages its org's quota refused go back.
		if a.tenant != nil && got < len(list) {
			a.tenant.release(len(list) - got)
			a.tenant.n -= int64(len(list) - got)
		}
	}
	return refused, a, nil
}

// release gives back the places of admitted messages that were not accepted after all
// (nil: all of them).
func (a *admission) release(notAccepted []*Message) {
	if a == nil {
		return
	}
	gone := map[*Message]bool{}
	for _, m := range notAccepted {
		gone[m] = true
	}
	all := notAccepted == nil
	n := 0
	for _, m := range notAccepted {
		if m.Mode == ModeLive {
			n++
		}
	}
	for _, g := range []*quotaGrant{a.quota, a.tenant} {
		if g == nil {
			continue
		}
		if all {
			g.release(int(g.n))
		} else {
			g.release(n)
		}
	}
	for k, list := range a.warmup {
		back := 0
		for _, m := range list {
			if all || gone[m] {
				back++
			}
		}
		if back > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := a.c.store.ReleaseCount(ctx, k, int64(back)); err != nil {
				a.c.log.Warn("giving back warmup places failed", "domain_id", k.Subject, "error", err)
			}
			cancel()
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
