package httpapi

import (
	"context"

	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

const tagOrg = "Org and usage"

// registerOrg adds the org's plan and limits, and its usage.
func registerOrg(r *registrar, h *handlers) {
	huma.Register(r.api, r.op(http.MethodGet, "/api/v1/org", "get-org", tagOrg, "Get your org",
		"Your org, its plan and its effective limits (the plan's, with your org's own overrides). Any key of the org may read it.",
		http.StatusUnauthorized, http.StatusTooManyRequests), h.getOrg)
	huma.Register(r.api, r.op(http.MethodPatch, "/api/v1/org", "update-org", tagOrg, "Change your plan and limits",
		"Changes the plan and the org's own limits (null goes back to the plan's). Needs an org-wide live key with full_access; "+
			"every server applies it within a second.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.updateOrg)
	huma.Register(r.api, r.op(http.MethodGet, "/api/v1/usage", "get-usage", tagOrg, "Get usage",
		"What your org (or tenant) sent in a range, in your key's mode (test traffic is counted apart and never against the quota): "+
			"per channel accepted, sent, delivered, bounced, complained and failed, the monthly quota and overage, and a series by "+
			"day, tag or tenant. Default range: this month. Needs usage:read.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.getUsage)
}

// OrgLimitsObject are effective limits: 0 is unlimited.
type OrgLimitsObject struct {
	BurstPerMinute int64 `json:"burst_per_minute" doc:"Requests per minute per key"`
	MonthlyEmails  int64 `json:"monthly_emails" doc:"Live emails per calendar month (UTC)"`
	MonthlySMS     int64 `json:"monthly_sms" doc:"Live SMS per calendar month (UTC)"`
	Overage        bool  `json:"overage" doc:"Sends past the quota go through and count as overage"`
}

// OrgOverrides are the org's own limits; null takes the plan's.
type OrgOverrides struct {
	BurstPerMinute *int64 `json:"burst_per_minute"`
	MonthlyEmails  *int64 `json:"monthly_emails"`
	MonthlySMS     *int64 `json:"monthly_sms"`
}

// OrgObject is the org as GET /api/v1/org shows it.
type OrgObject struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Plan      string          `json:"plan" example:"enterprise"`
	Plans     []string        `json:"plans" doc:"The plans of this installation"`
	Limits    OrgLimitsObject `json:"limits" doc:"What applies: the plan's limits with the org's own"`
	Overrides OrgOverrides    `json:"overrides" doc:"The org's own limits"`
	CreatedAt string          `json:"created_at" format:"date-time"`
}

// OrgPatch is the body of PATCH /api/v1/org. Every field is optional.
type OrgPatch struct {
	Plan   *string        `json:"plan,omitempty"`
	Limits map[string]any `json:"limits,omitempty" doc:"burst_per_minute, monthly_emails, monthly_sms: a number (0 is unlimited) or null for the plan's"`
}

type orgOutput struct{ Body *OrgObject }

type orgPatchInput struct {
	jsonBody[OrgPatch]
}

func orgObject(s *sendoka.OrgSettings) *OrgObject {
	l := s.Limits
	return &OrgObject{
		ID: s.Org.ID, Name: s.Org.Name, Plan: l.Plan, Plans: s.Plans,
		Limits:    OrgLimitsObject{BurstPerMinute: l.BurstPerMinute, MonthlyEmails: l.MonthlyEmails, MonthlySMS: l.MonthlySMS, Overage: l.Overage},
		Overrides: OrgOverrides{BurstPerMinute: s.Org.Limits.BurstPerMinute, MonthlyEmails: s.Org.Limits.MonthlyEmails, MonthlySMS: s.Org.Limits.MonthlySMS},
		CreatedAt: formatTime(s.Org.CreatedAt),
	}
}

func (h *handlers) getOrg(ctx context.Context, _ *struct{}) (*orgOutput, error) {
	s, err := h.c.GetOrgSettings(ctx, PrincipalFrom(ctx))
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &orgOutput{Body: orgObject(s)}, nil
}

func (h *handlers) updateOrg(ctx context.Context, in *orgPatchInput) (*orgOutput, error) {
	u := sendoka.OrgUpdate{Plan: in.Body.Plan}
	var v sendoka.Validation
	for name, raw := range in.Body.Limits {
		var target ***int64
		switch name {
		case "burst_per_minute":
			target = &u.BurstPerMinute
		case "monthly_emails":
			target = &u.MonthlyEmails
		case "monthly_sms":
			target = &u.MonthlySMS
		default:
			v.Add(sendoka.FieldUnrecognized, "unknown limit", "limits", name)
			continue
		}
		var val *int64
		if raw != nil {
			f, ok := raw.(float64)
			if !ok || f != float64(int64(f)) {
				v.Add(sendoka.FieldInvalidType, "a whole number, or null", "limits", name)
				continue
			}
			n := int64(f)
			val = &n
		}
		*target = &val
	}
	if err := v.Err(); err != nil {
		return nil, fail(ctx, err)
	}
	s, err := h.c.UpdateOrgSettings(ctx, PrincipalFrom(ctx), u)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &orgOutput{Body: orgObject(s)}, nil
}

// UsageCountsObject counts one channel's messages.
type UsageCountsObject struct {
	Accepted   int64 `json:"accepted"`
	Sent       int64 `json:"sent" doc:"Handed to the provider (whatever happened next)"`
	Delivered  int64 `json:"delivered"`
	Bounced    int64 `json:"bounced"`
	Complained int64 `json:"complained" doc:"Complaint suppressions recorded in the range"`
	Failed     int64 `json:"failed"`
}

// ChannelUsageObject is one channel's usage, with the quota.
type ChannelUsageObject struct {
	UsageCountsObject
	Quota   int64 `json:"quota" doc:"The monthly quota of the plan, 0 for none (test keys: 0)"`
	Overage int64 `json:"overage" doc:"Sends past the quota (plans with overage)"`
}

// UsageGroupObject is one point of a series.
type UsageGroupObject struct {
	Key   string            `json:"key" doc:"The day (YYYY-MM-DD, UTC), the tag, or the tenant id (\"\" for the org level)"`
	Email UsageCountsObject `json:"email"`
	SMS   UsageCountsObject `json:"sms"`
}

// UsageObject answers GET /api/v1/usage.
type UsageObject struct {
	OrgID    string             `json:"org_id"`
	TenantID *string            `json:"tenant_id"`
	Mode     string             `json:"mode" enum:"live,test"`
	Plan     string             `json:"plan"`
	From     string             `json:"from" format:"date-time"`
	To       string             `json:"to" format:"date-time"`
	Email    ChannelUsageObject `json:"email"`
	SMS      ChannelUsageObject `json:"sms"`
	GroupBy  *string            `json:"group_by"`
	Series   []UsageGroupObject `json:"series" nullable:"false"`
}

type usageInput struct {
	From     string `query:"from" doc:"Start of the range (RFC 3339); default: the start of this month (UTC)"`
	To       string `query:"to" doc:"End of the range, excluded (RFC 3339); default: now"`
	GroupBy  string `query:"group_by" enum:"day,tag,tenant" doc:"Add a series by day, tag or tenant"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"A root key's view of one tenant"`
}

type usageOutput struct{ Body *UsageObject }

func countsObject(c sendoka.UsageCounts) UsageCountsObject {
	return UsageCountsObject{Accepted: c.Accepted, Sent: c.Sent, Delivered: c.Delivered, Bounced: c.Bounced, Complained: c.Complained, Failed: c.Failed}
}

func (h *handlers) getUsage(ctx context.Context, in *usageInput) (*usageOutput, error) {
	q := sendoka.UsageQuery{GroupBy: in.GroupBy, TenantID: in.TenantID}
	var v sendoka.Validation
	for _, f := range []struct {
		raw  string
		dst  *time.Time
		name string
	}{{in.From, &q.From, "from"}, {in.To, &q.To, "to"}} {
		if f.raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f.raw)
		if err != nil {
			v.Add(sendoka.FieldInvalidString, "an RFC 3339 time such as 2026-12-01T00:00:00Z", f.name)
			continue
		}
		*f.dst = t
	}
	if err := v.Err(); err != nil {
		return nil, fail(ctx, err)
	}
	u, err := h.c.Usage(ctx, PrincipalFrom(ctx), q)
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &UsageObject{OrgID: u.OrgID, TenantID: nullable(u.TenantID), Mode: string(u.Mode), Plan: u.Plan,
		From: formatTime(u.From), To: formatTime(u.To), GroupBy: nullable(u.GroupBy), Series: []UsageGroupObject{},
		Email: ChannelUsageObject{UsageCountsObject: countsObject(u.Email.UsageCounts), Quota: u.Email.Quota, Overage: u.Email.Overage},
		SMS:   ChannelUsageObject{UsageCountsObject: countsObject(u.SMS.UsageCounts), Quota: u.SMS.Quota, Overage: u.SMS.Overage},
	}
	for _, g := range u.Series {
		out.Series = append(out.Series, UsageGroupObject{Key: g.Key, Email: countsObject(g.Email), SMS: countsObject(g.SMS)})
	}
	return &usageOutput{Body: out}, nil
}
