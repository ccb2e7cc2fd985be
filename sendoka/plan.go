package sendoka

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Plan is what an org may do: the burst limit of each of its keys and its monthly quota per
// channel. An org's own OrgLimits override its plan's.
type Plan struct {
	Name string `json:"name"`
	// BurstPerMinute is how many requests one key may make in any minute; 0 is unlimited.
	BurstPerMinute int64 `json:"burst_per_minute"`
	// MonthlyEmails and MonthlySMS are the messages an org may send per calendar month
	// (UTC) on each channel, live keys only; 0 is unlimited.
	MonthlyEmails int64 `json:"monthly_emails"`
	MonthlySMS    int64 `json:"monthly_sms"`
	// Overage lets sends past the monthly quota through, counted as overage (metered
	// billing), instead of refusing them with CodeUsageLimitExceeded.
	Overage bool `json:"overage"`
}

// The plans of the docs, Config.Plans' default: Free (60 requests a minute per key, 3,000
// emails and 500 SMS a month), Pro (600 a minute, 10,000 emails and 1,000 SMS with metered
// overage) and Enterprise (6,000 a minute, no quota: custom limits are set per org).
var DefaultPlans = []Plan{
	{Name: "free", BurstPerMinute: 60, MonthlyEmails: 3000, MonthlySMS: 500},
	{Name: "pro", BurstPerMinute: 600, MonthlyEmails: 10000, MonthlySMS: 1000, Overage: true},
	{Name: "enterprise", BurstPerMinute: 6000},
}

// DefaultPlanName is the plan of the org Bootstrap creates, unless Config.DefaultPlan names
// another: a self-hosted installation is not throttled like a free trial.
const DefaultPlanName = "enterprise"

// Limits are an org's effective limits: its plan's, with its own overrides applied.
type Limits struct {
	Plan           string
	BurstPerMinute int64
	MonthlyEmails  int64
	MonthlySMS     int64
	Overage        bool
}

// Monthly returns the monthly quota of a channel (0: unlimited).
func (l Limits) Monthly(ch Channel) int64 {
	if ch == ChannelSMS {
		return l.MonthlySMS
	}
	return l.MonthlyEmails
}

// plans holds the configured plans and a short-lived cache of each org's limits.
type plans struct {
	byName      map[string]Plan
	defaultName string

	mu    sync.Mutex
	cache map[string]cachedLimits // org id → limits
}

type cachedLimits struct {
	limits Limits
	at     time.Time
}

// limitsCacheTTL bounds how stale an org's limits may be in a process: a PATCH of the org
// reaches every node within it.
const limitsCacheTTL = time.Second

func newPlans(list []Plan, defaultName string) (*plans, error) {
	if list == nil {
		list = DefaultPlans
	}
	p := &plans{byName: map[string]Plan{}, defaultName: defaultName, cache: map[string]cachedLimits{}}
	for _, pl := range list {
		name := strings.TrimSpace(pl.Name)
		if name == "" || pl.BurstPerMinute < 0 || pl.MonthlyEmails < 0 || pl.MonthlySMS < 0 {
			return nil, fmt.Errorf("sendoka: plan %q: a name and limits of 0 (unlimited) or more", pl.Name)
		}
		if _, dup := p.byName[name]; dup {
			return nil, fmt.Errorf("sendoka: plan %q twice", name)
		}
		pl.Name = name
		p.byName[name] = pl
	}
	if p.defaultName == "" {
		p.defaultName = DefaultPlanName
	}
	if _, ok := p.byName[p.defaultName]; !ok {
		return nil, fmt.Errorf("sendoka: the default plan %q is not one of the plans", p.defaultName)
	}
	return p, nil
}

// names lists the plans, sorted.
func (p *plans) names() []string {
	out := make([]string, 0, len(p.byName))
	for n := range p.byName {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// effective applies an org's own limits to its plan's. An org whose plan is unknown (the
// plans were reconfigured) gets the default plan's.
func (p *plans) effective(o *Org) Limits {
	pl, ok := p.byName[o.Plan]
	if !ok {
		pl = p.byName[p.defaultName]
	}
	l := Limits{Plan: pl.Name, BurstPerMinute: pl.BurstPerMinute, MonthlyEmails: pl.MonthlyEmails, MonthlySMS: pl.MonthlySMS, Overage: pl.Overage}
	if o.Limits.BurstPerMinute != nil {
		l.BurstPerMinute = *o.Limits.BurstPerMinute
	}
	if o.Limits.MonthlyEmails != nil {
		l.MonthlyEmails = *o.Limits.MonthlyEmails
	}
	if o.Limits.MonthlySMS != nil {
		l.MonthlySMS = *o.Limits.MonthlySMS
	}
	return l
}

// orgLimits returns an org's effective limits, read at most once a limitsCacheTTL.
func (c *Client) orgLimits(ctx context.Context, orgID string) (Limits, error) {
	now := c.clock.Now()
	c.plans.mu.Lock()
	hit, ok := c.plans.cache[orgID]
	c.plans.mu.Unlock()
	if ok && now.Sub(hit.at) < limitsCacheTTL && !now.Before(hit.at) {
		return hit.limits, nil
	}
	o, err := c.store.GetOrg(ctx, orgID)
	if err != nil {
		return Limits{}, AsError(err)
	}
	l := c.plans.effective(o)
	c.plans.mu.Lock()
	if len(c.plans.cache) > 10000 {
		clear(c.plans.cache)
	}
	c.plans.cache[orgID] = cachedLimits{limits: l, at: now}
	c.plans.mu.Unlock()
	return l, nil
}

// OrgSettings is an org with its plan and effective limits.
type OrgSettings struct {
	Org    *Org
	Limits Limits
	// Plans names the plans it may move to.
	Plans []string
}

// GetOrgSettings returns the principal's org, its plan and its limits. Any key of the org
// may read it.
func (c *Client) GetOrgSettings(ctx context.Context, p *Principal) (*OrgSettings, error) {
	if p == nil {
		return nil, Errorf(CodeUnauthorized, "missing API key")
	}
	o, err := c.store.GetOrg(ctx, p.OrgID)
	if err != nil {
		return nil, AsError(err)
	}
	return &OrgSettings{Org: o, Limits: c.plans.effective(o), Plans: c.plans.names()}, nil
}

// OrgUpdate changes an org's plan and limits. Nil fields stay; a limits field set to a
// pointer to nil goes back to the plan's.
type OrgUpdate struct {
	Plan           *string
	BurstPerMinute **int64
	MonthlyEmails  **int64
	MonthlySMS     **int64
}

// UpdateOrgSettings changes the org's plan and its own limits. It takes a full-access,
// live, org-wide principal: limits are the org's to set, not a tenant's or a test key's.
// Every process applies the change within a second.
func (c *Client) UpdateOrgSettings(ctx context.Context, p *Principal, u OrgUpdate) (*OrgSettings, error) {
	if err := p.require(PermissionFullAccess); err != nil {
		return nil, err
	}
	if p.Mode != ModeLive || p.TenantID != "" {
		return nil, Errorf(CodeInsufficientScope, "only an org-wide live key with full_access may change the org's plan and limits")
	}
	var v Validation
	if u.Plan != nil {
		if _, ok := c.plans.byName[*u.Plan]; !ok {
			v.Add(FieldInvalid, "unknown plan; one of "+strings.Join(c.plans.names(), ", "), "plan")
		}
	}
	for name, f := range map[string]**int64{"burst_per_minute": u.BurstPerMinute, "monthly_emails": u.MonthlyEmails, "monthly_sms": u.MonthlySMS} {
		if f != nil && *f != nil && **f < 0 {
			v.Add(FieldInvalid, "0 (unlimited) or more", "limits", name)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	o, err := c.store.GetOrg(ctx, p.OrgID)
	if err != nil {
		return nil, AsError(err)
	}
	if u.Plan != nil {
		o.Plan = *u.Plan
	}
	if u.BurstPerMinute != nil {
		o.Limits.BurstPerMinute = *u.BurstPerMinute
	}
	if u.MonthlyEmails != nil {
		o.Limits.MonthlyEmails = *u.MonthlyEmails
	}
	if u.MonthlySMS != nil {
		o.Limits.MonthlySMS = *u.MonthlySMS
	}
	if err := c.store.UpdateOrg(ctx, o); err != nil {
		return nil, AsError(err)
	}
	c.plans.mu.Lock()
	delete(c.plans.cache, o.ID)
	c.plans.mu.Unlock()
	return &OrgSettings{Org: o, Limits: c.plans.effective(o), Plans: c.plans.names()}, nil
}
