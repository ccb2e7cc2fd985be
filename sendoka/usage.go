package sendoka

import (
	"context"
	"slices"
	"time"
)

// UsageQuery selects what Usage counts.
type UsageQuery struct {
	// From and To bound the messages counted by creation time, [From, To). Default: the
	// current calendar month (UTC) up to now.
	From, To time.Time
	// GroupBy adds a series: "day" (UTC), "tag" or "tenant"; "" for none.
	GroupBy string
	// TenantID, for a platform-root principal, counts one tenant's messages only.
	TenantID string
}

// UsageCounts counts one channel's messages: all accepted, those handed to the provider
// (sent, whatever happened next), and those delivered, bounced, complained about (a
// complaint suppression recorded in the range) or failed.
type UsageCounts struct {
	Accepted, Sent, Delivered, Bounced, Complained, Failed int64
}

// ChannelUsageReport is one channel's usage over the range, with the monthly quota of the
// org's plan (0: none) and the overage past it (Pro's metered sends).
type ChannelUsageReport struct {
	UsageCounts
	Quota   int64
	Overage int64
}

// UsageGroup is one point of a series: a day, a tag or a tenant ("" for the org level).
type UsageGroup struct {
	Key   string
	Email UsageCounts
	SMS   UsageCounts
}

// Usage is what an org (or tenant) sent in a range, in one mode.
type Usage struct {
	OrgID, TenantID string
	// Mode is the caller's: test traffic is counted apart from live traffic, and never
	// against the quota.
	Mode     Mode
	From, To time.Time
	Plan     string
	Email    ChannelUsageReport
	SMS      ChannelUsageReport
	GroupBy  string
	Series   []UsageGroup
}

// UsageCount is one group of UsageStore.CountUsage.
type UsageCount struct {
	Group   string
	Channel Channel
	Status  Status
	Count   int64
}

// UsageStore counts usage (embedded in Store).
type UsageStore interface {
	// CountUsage counts the messages in scope (its mode included) created in [from, to), by
	// group (groupBy "day": the UTC day "2026-12-04"; "tag": each tag, a message counted
	// once per tag; "tenant": the tenant id, "" for the org level; "": ""), channel and
	// status.
	CountUsage(ctx context.Context, scope Scope, from, to time.Time, groupBy string) ([]UsageCount, error)
	// CountComplaints counts the complaint suppressions in scope created in [from, to), by
	// channel.
	CountComplaints(ctx context.Context, scope Scope, from, to time.Time) (map[Channel]int64, error)
}

// usageRange is the default range: this month, up to now.
func usageRange(q UsageQuery, now time.Time) (time.Time, time.Time) {
	from, to := q.From, q.To
	if from.IsZero() {
		from = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	if to.IsZero() {
		to = now.Add(time.Microsecond)
	}
	return from.UTC(), to.UTC()
}

// MaxUsageRange bounds a usage query: at most a year at a time.
const MaxUsageRange = 366 * 24 * time.Hour

// Usage counts the messages of the principal's org (or tenant) in its mode over a range,
// per channel, with the quota and overage of the org's plan, and a series by day, tag or
// tenant. It takes usage:read.
func (c *Client) Usage(ctx context.Context, p *Principal, q UsageQuery) (*Usage, error) {
	if err := p.require(PermissionUsageRead, PermissionTenantsRead); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, q.TenantID)
	if err != nil {
		return nil, err
	}
	now := c.now()
	from, to := usageRange(q, now)
	var v Validation
	if !from.Before(to) {
		v.Add(FieldInvalid, "must be before to", "from")
	}
	if to.Sub(from) > MaxUsageRange {
		v.Add(FieldInvalid, "at most a year at a time", "to")
	}
	if !slices.Contains([]string{"", "day", "tag", "tenant"}, q.GroupBy) {
		v.Add(FieldInvalid, "day, tag or tenant", "group_by")
	}
	if q.GroupBy == "tenant" && p.TenantID != "" {
		v.Add(FieldInvalid, "a tenant's usage has no tenants to group by", "group_by")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	rows, err := c.store.CountUsage(ctx, p.Scope(), from, to, q.GroupBy)
	if err != nil {
		return nil, AsError(err)
	}
	complaints, err := c.store.CountComplaints(ctx, p.Scope(), from, to)
	if err != nil {
		return nil, AsError(err)
	}
	l, err := c.orgLimits(ctx, p.OrgID)
	if err != nil {
		return nil, err
	}
	u := &Usage{OrgID: p.OrgID, TenantID: p.TenantID, Mode: p.Mode, From: from, To: to, Plan: l.Plan, GroupBy: q.GroupBy}
	series := map[string]*UsageGroup{}
	for _, r := range rows {
		if q.GroupBy != "" {
			g := series[r.Group]
			if g == nil {
				g = &UsageGroup{Key: r.Group}
				series[r.Group] = g
			}
			addCount(pick(&g.Email, &g.SMS, r.Channel), r)
		}
		if q.GroupBy != "tag" { // a tagged message counts once per tag
			addCount(pick(&u.Email.UsageCounts, &u.SMS.UsageCounts, r.Channel), r)
		}
	}
	if q.GroupBy == "tag" {
		// Totals without double counting: ask again, ungrouped.
		all, err := c.store.CountUsage(ctx, p.Scope(), from, to, "")
		if err != nil {
			return nil, AsError(err)
		}
		for _, r := range all {
			addCount(pick(&u.Email.UsageCounts, &u.SMS.UsageCounts, r.Channel), r)
		}
	}
	u.Email.Complained, u.SMS.Complained = complaints[ChannelEmail], complaints[ChannelSMS]
	if p.Mode == ModeLive {
		for _, ch := range []Channel{ChannelEmail, ChannelSMS} {
			rep := &u.Email
			if ch == ChannelSMS {
				rep = &u.SMS
			}
			rep.Quota = l.Monthly(ch)
			if rep.Quota > 0 && l.Overage {
				rep.Overage = max(0, rep.Accepted-rep.Quota)
			}
		}
	}
	for _, g := range series {
		u.Series = append(u.Series, *g)
	}
	slices.SortFunc(u.Series, func(a, b UsageGroup) int {
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	return u, nil
}

func pick(email, sms *UsageCounts, ch Channel) *UsageCounts {
	if ch == ChannelSMS {
		return sms
	}
	return email
}

func addCount(u *UsageCounts, r UsageCount) {
	u.Accepted += r.Count
	switch r.Status {
	case StatusSent, StatusDelivered, StatusBounced:
		u.Sent += r.Count
	}
	switch r.Status {
	case StatusDelivered:
		u.Delivered += r.Count
	case StatusBounced:
		u.Bounced += r.Count
	case StatusFailed:
		u.Failed += r.Count
	}
}
