package sendoka

import "time"

// Org is an account: it owns keys, messages and (in platform mode) tenants.
type Org struct {
	ID   string
	Name string
	// Plan names the org's plan (Config.Plans); Limits override the plan's where set.
	Plan      string
	Limits    OrgLimits
	CreatedAt time.Time
}

// OrgLimits are an org's own limits; a nil field takes the plan's.
type OrgLimits struct {
	// BurstPerMinute is how many requests a key may make per minute.
	BurstPerMinute *int64
	// MonthlyEmails and MonthlySMS are the monthly quotas per channel; 0 means unlimited.
	MonthlyEmails *int64
	MonthlySMS    *int64
}

// Scope bounds what a caller can see: one org, and within it one tenant when TenantID is
// set. Every read and write of the Store takes one.
type Scope struct {
	OrgID    string
	TenantID string // "" means every tenant of the org (platform-root keys)
	// Mode keeps test and live data apart: messages (and what counts them) of the other
	// mode are outside the scope. "" sees both (the binary's administration commands).
	// Templates, domains, senders, suppressions and keys are shared by both modes.
	Mode Mode
}

// SeesMessage reports whether m is inside the scope: its org, its tenant when the scope
// names one, and its mode when the scope names one.
func (s Scope) SeesMessage(m *Message) bool {
	return m.OrgID == s.OrgID && (s.TenantID == "" || m.TenantID == s.TenantID) &&
		(s.Mode == "" || m.Mode == s.Mode)
}
