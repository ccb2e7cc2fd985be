package sendoka

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Tenant is one customer of an org in platform mode: an org that runs its own SaaS on
// Sendoka makes each of its customers a tenant, and every message, template, sender, pool,
// suppression and API key of a tenant is that tenant's alone.
//
// Platform-root keys (org keys without a tenant) manage tenants and act on any tenant's
// resources by naming it (tenant_id on create bodies, ?tenant_id= on lists; see ForTenant).
// Tenant-bound keys see their own tenant only.
type Tenant struct {
	ID    string
	OrgID string
	Name  string
	// Slug is unique among the org's tenants that are not deleted: lower-case letters, digits
	// and hyphens.
	Slug string
	// ExternalRef is the org's own reference for the tenant (its customer id), or "".
	ExternalRef string
	// MonthlyEmails and MonthlySMS cap the tenant's live messages per calendar month (UTC)
	// beside its org's quota, so a platform can hold each customer to its plan; 0: no cap of
	// the tenant's own.
	MonthlyEmails int64
	MonthlySMS    int64
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// TenantStore is the part of Store that reads tenants (embedded in Store). A deleted tenant
// (TenantTx.MarkTenantDeleted) is never returned: for every read it no longer exists.
type TenantStore interface {
	// GetTenant returns the tenant with that id in scope: a tenant of scope.OrgID, and the
	// scope's own tenant when scope.TenantID is set. An unknown id, a deleted tenant, another
	// org's or (for a tenant scope) another tenant's is CodeNotFound.
	GetTenant(ctx context.Context, scope Scope, id string) (*Tenant, error)
	// ListTenants returns one page of the tenants in scope (every tenant of the org, or only
	// the scope's own tenant), newest first: ordered by (CreatedAt, ID) descending, strictly
	// after q.After when it is set. It returns at most q.Limit tenants, and HasMore tells
	// whether more follow.
	ListTenants(ctx context.Context, scope Scope, q PageQuery) (*TenantPage, error)
	// CountMessages counts the messages of mode in scope by channel and status, one entry per
	// (channel, status) pair that has messages, in any order. scope.TenantID set counts that
	// tenant's messages only.
	CountMessages(ctx context.Context, scope Scope, mode Mode) ([]MessageCount, error)
}

// TenantTx is the part of Tx that writes tenants and removes them (embedded in Tx).
type TenantTx interface {
	// InsertTenant inserts a tenant. A slug used by another tenant of the org that is not
	// deleted, or a duplicate id, is CodeConflict.
	InsertTenant(ctx context.Context, t *Tenant) error
	// UpdateTenant writes Name, Slug, ExternalRef and UpdatedAt of the tenant t.ID of t.OrgID.
	// A tenant that does not exist or is deleted is CodeNotFound; a slug taken by another
	// tenant of the org is CodeConflict.
	UpdateTenant(ctx context.Context, t *Tenant) error
	// MarkTenantDeleted records at as the deletion time of a tenant of org: from then on no
	// read returns it and its slug is free. A tenant that does not exist or is already
	// deleted is CodeNotFound.
	MarkTenantDeleted(ctx context.Context, orgID, id string, at time.Time) error
	// RevokeTenantAPIKeys sets RevokedAt = at on every key of the tenant that is not revoked
	// yet, and returns their hashes. As RevokeAPIKey, a store with KeyInvalidations reports
	// each of them to its watchers once the transaction commits.
	RevokeTenantAPIKeys(ctx context.Context, orgID, tenantID string, at time.Time) ([]string, error)
	// ScheduledTenantMessages returns at most limit messages of the tenant that are scheduled
	// and not claimed, oldest first.
	ScheduledTenantMessages(ctx context.Context, orgID, tenantID string, limit int) ([]*Message, error)
	// DeleteTenantData deletes at most limit rows of the tenant's data, and returns how many
	// it deleted: rows of the first kind in this order that has any left, messages (with
	// their events, tags, attachment contents and tracked links, which do not count towards
	// limit), templates, senders (and their pool memberships), pools, suppressions, API
	// keys. Messages being handed to a provider (queued or scheduled with a claim, lapsed or
	// not) are left alone. 0 means nothing it may delete is left. Deleted keys are reported
	// to KeyInvalidations watchers as RevokeTenantAPIKeys reports revoked ones. The data of a
	// tenant that exists and is not deleted is never touched (0, nil); a tenant id with no
	// tenant row (removed already) is purged as a deleted tenant's.
	DeleteTenantData(ctx context.Context, orgID, tenantID string, limit int) (int, error)
	// RemoveTenant deletes the row of a tenant that was marked deleted, if none of its
	// messages is left, and reports whether it did. A tenant that was not marked deleted is
	// never removed.
	RemoveTenant(ctx context.Context, orgID, id string) (bool, error)
}

// TenantPage is one page of ListTenants.
type TenantPage struct {
	Tenants []*Tenant
	HasMore bool
}

// MessageCount is how many messages of one channel are in one status (CountMessages).
type MessageCount struct {
	Channel Channel
	Status  Status
	Count   int
}

// TenantRequest is the body of POST /api/v1/tenants.
type TenantRequest struct {
	Name        string `json:"name" doc:"A name for the tenant, 1-200 characters" example:"Acme Corp" maxLength:"200"`
	Slug        string `json:"slug" doc:"Unique among the org's tenants: 1-64 lower-case letters, digits and hyphens, starting and ending with a letter or digit" example:"acme" maxLength:"64"`
	ExternalRef string `json:"external_ref,omitempty" doc:"Your own reference for the tenant (your customer id), at most 255 characters" example:"cust_12345" maxLength:"255"`
	// MonthlyEmails and MonthlySMS are the tenant's own monthly caps; 0 or left out: none.
	MonthlyEmails int64 `json:"monthly_emails,omitempty" minimum:"0" doc:"Live emails the tenant may send per calendar month (UTC), beside your org's quota; 0: no cap of its own"`
	MonthlySMS    int64 `json:"monthly_sms,omitempty" minimum:"0" doc:"Live SMS the tenant may send per calendar month (UTC); 0: no cap of its own"`
}

// TenantUpdate is the body of PATCH /api/v1/tenants/{id}: a field left out (nil) keeps its
// value; external_ref "" clears the reference.
type TenantUpdate struct {
	Name        *string `json:"name,omitempty" doc:"A new name" maxLength:"200"`
	Slug        *string `json:"slug,omitempty" doc:"A new slug" maxLength:"64"`
	ExternalRef *string `json:"external_ref,omitempty" doc:"A new reference; empty clears it" maxLength:"255"`
	// MonthlyEmails and MonthlySMS set new monthly caps; 0 removes one.
	MonthlyEmails *int64 `json:"monthly_emails,omitempty" minimum:"0" doc:"A new monthly email cap; 0 removes it"`
	MonthlySMS    *int64 `json:"monthly_sms,omitempty" minimum:"0" doc:"A new monthly SMS cap; 0 removes it"`
}

// TenantListParams are the query parameters of GET /api/v1/tenants.
type TenantListParams struct {
	Limit  int    // 1..100, default 20
	Cursor string // the next_cursor of a previous page
}

// TenantList is one page of tenants with the cursor of the next.
type TenantList struct {
	Tenants    []*Tenant
	HasMore    bool
	NextCursor string // "" when there is no next page
}

// Tenant limits.
const (
	MaxTenantName        = 200
	MaxTenantSlug        = 64
	MaxTenantExternalRef = 255
)

// Who may do what with tenants: reading takes tenants:read (or :write), writing
// tenants:write; full access holds both.
var (
	tenantReadPermissions  = []Permission{PermissionTenantsRead, PermissionTenantsWrite}
	tenantWritePermissions = []Permission{PermissionTenantsWrite}
)

// requireTenantWrite allows platform-root principals with tenants:write: a tenant-bound
// principal never creates, changes or deletes tenants (CodeTenantForbidden, whatever the id,
// so the answer tells nothing about other tenants).
func requireTenantWrite(p *Principal) error {
	if err := p.require(tenantWritePermissions...); err != nil {
		return err
	}
	if p.TenantID != "" {
		return Errorf(CodeTenantForbidden, "a tenant-bound key cannot create, change or delete tenants; use a platform-root key")
	}
	return nil
}

// CreateTenant creates a tenant of the principal's org. It takes a platform-root key with
// tenants:write. A slug already used by a tenant of the org is CodeConflict.
func (c *Client) CreateTenant(ctx context.Context, p *Principal, req *TenantRequest) (*Tenant, error) {
	if err := requireTenantWrite(p); err != nil {
		return nil, err
	}
	now := c.now()
	t := &Tenant{
		ID: NewID(PrefixTenant, now), OrgID: p.OrgID,
		Name: strings.TrimSpace(req.Name), Slug: req.Slug, ExternalRef: req.ExternalRef,
		MonthlyEmails: req.MonthlyEmails, MonthlySMS: req.MonthlySMS,
		CreatedAt: now, UpdatedAt: now,
	}
	if err := validateTenant(t); err != nil {
		return nil, err
	}
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.InsertTenant(ctx, t) }); err != nil {
		return nil, slugTaken(err, t.Slug)
	}
	return t, nil
}

// GetTenant returns a tenant of the principal's org. A tenant-bound principal sees its own
// tenant only: any other id is CodeNotFound. It takes tenants:read.
func (c *Client) GetTenant(ctx context.Context, p *Principal, id string) (*Tenant, error) {
	if err := p.require(tenantReadPermissions...); err != nil {
		return nil, err
	}
	return c.getTenant(ctx, p.Scope(), id)
}

func (c *Client) getTenant(ctx context.Context, scope Scope, id string) (*Tenant, error) {
	if !plausibleID(id) || (scope.TenantID != "" && id != scope.TenantID) {
		return nil, NotFound("tenant")
	}
	t, err := c.store.GetTenant(ctx, scope, id)
	if err != nil {
		return nil, AsError(err)
	}
	return t, nil
}

// ListTenants returns a page of the org's tenants, newest first; a tenant-bound principal
// gets a page with its own tenant only. It takes tenants:read.
func (c *Client) ListTenants(ctx context.Context, p *Principal, lp TenantListParams) (*TenantList, error) {
	if err := p.require(tenantReadPermissions...); err != nil {
		return nil, err
	}
	q, err := pageQuery(ListParams{Limit: lp.Limit, Cursor: lp.Cursor})
	if err != nil {
		return nil, err
	}
	page, err := c.store.ListTenants(ctx, p.Scope(), q)
	if err != nil {
		return nil, AsError(err)
	}
	out := &TenantList{Tenants: page.Tenants, HasMore: page.HasMore}
	if page.HasMore && len(page.Tenants) > 0 {
		last := page.Tenants[len(page.Tenants)-1]
		out.NextCursor = EncodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return out, nil
}

// UpdateTenant changes the fields u sets. It takes a platform-root key with tenants:write;
// an id unknown in the org is CodeNotFound, a slug taken by another tenant CodeConflict.
func (c *Client) UpdateTenant(ctx context.Context, p *Principal, id string, u *TenantUpdate) (*Tenant, error) {
	if err := requireTenantWrite(p); err != nil {
		return nil, err
	}
	t, err := c.getTenant(ctx, p.Scope(), id)
	if err != nil {
		return nil, err
	}
	if u.Name == nil && u.Slug == nil && u.ExternalRef == nil && u.MonthlyEmails == nil && u.MonthlySMS == nil {
		return t, nil
	}
	if u.MonthlyEmails != nil {
		t.MonthlyEmails = *u.MonthlyEmails
	}
	if u.MonthlySMS != nil {
		t.MonthlySMS = *u.MonthlySMS
	}
	if u.Name != nil {
		t.Name = strings.TrimSpace(*u.Name)
	}
	if u.Slug != nil {
		t.Slug = *u.Slug
	}
	if u.ExternalRef != nil {
		t.ExternalRef = *u.ExternalRef
	}
	if err := validateTenant(t); err != nil {
		return nil, err
	}
	t.UpdatedAt = c.now()
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.UpdateTenant(ctx, t) }); err != nil {
		return nil, slugTaken(err, t.Slug)
	}
	return t, nil
}

// validateTenant checks the fields a caller sets, with one field error per problem.
func validateTenant(t *Tenant) error {
	var v Validation
	switch n := utf8.RuneCountInString(t.Name); {
	case !utf8.ValidString(t.Name):
		v.Add(FieldInvalidString, "must be valid UTF-8", "name")
	case n == 0:
		v.Add(FieldRequired, "Required", "name")
	case n > MaxTenantName:
		v.Add(FieldTooBig, "at most 200 characters", "name")
	case controlOrSeparator(t.Name):
		v.Add(FieldInvalidString, "must not contain control characters or line breaks", "name")
	}
	switch {
	case t.Slug == "":
		v.Add(FieldRequired, "Required", "slug")
	case len(t.Slug) > MaxTenantSlug:
		v.Add(FieldTooBig, "at most 64 characters", "slug")
	case !validTenantSlug(t.Slug):
		v.Add(FieldInvalidString, "lower-case letters, digits and hyphens, starting and ending with a letter or digit", "slug")
	}
	switch {
	case !utf8.ValidString(t.ExternalRef):
		v.Add(FieldInvalidString, "must be valid UTF-8", "external_ref")
	case utf8.RuneCountInString(t.ExternalRef) > MaxTenantExternalRef:
		v.Add(FieldTooBig, "at most 255 characters", "external_ref")
	case controlOrSeparator(t.ExternalRef):
		v.Add(FieldInvalidString, "must not contain control characters or line breaks", "external_ref")
	}
	if t.MonthlyEmails < 0 {
		v.Add(FieldTooSmall, "0 (no cap) or more", "monthly_emails")
	}
	if t.MonthlySMS < 0 {
		v.Add(FieldTooSmall, "0 (no cap) or more", "monthly_sms")
	}
	return v.Err()
}

// controlOrSeparator reports whether s holds a control character (tab included) or a
// Unicode line or paragraph separator.
func controlOrSeparator(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl) || hasControl(s)
}

// validTenantSlug reports whether s is [a-z0-9] or [a-z0-9][a-z0-9-]*[a-z0-9].
func validTenantSlug(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-') {
			return false
		}
	}
	return true
}

// slugTaken names the slug in the store's CodeConflict.
func slugTaken(err error, slug string) error {
	if ErrorCode(err) != CodeConflict {
		return err
	}
	return &Error{Code: CodeConflict, Message: "a tenant with slug " + slug + " already exists", Err: err}
}
