package sendoka

import "time"

// Org is an account: it owns keys, messages and (in platform mode) tenants.
type Org struct {
	ID        string
	Name      string
	Plan      string
	CreatedAt time.Time
}

// Scope bounds what a caller can see: one org, and within it one tenant when TenantID is
// set. Every read and write of the Store takes one.
type Scope struct {
	OrgID    string
	TenantID string // "" means every tenant of the org (platform-root keys)
}
