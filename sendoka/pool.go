package sendoka

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
)

// PhonePool is a named set of senders. A message sent with from_pool goes out from one of its
// active members, picked per recipient (see Client.SendSMS).
type PhonePool struct {
	ID       string
	OrgID    string
	TenantID string // "" for an org-wide pool
	Name     string
	// Default makes this the pool used when a message names neither from nor from_pool. An
	// org (and each tenant) has at most one default pool.
	Default bool
	// PhoneNumberIDs are the members, in the order given. Members belong to the pool's tenant
	// (org-wide senders for an org-wide pool).
	PhoneNumberIDs []string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// PhonePoolRequest is the body of POST /api/v1/phone-pools.
type PhonePoolRequest struct {
	Name           string   `json:"name" doc:"A name for the pool (1-100 characters)" example:"US marketing"`
	PhoneNumberIDs []string `json:"phone_number_ids" doc:"Registered senders in the pool (0-100), by id" example:"[\"pn_01HN...\"]"`
	Default        bool     `json:"default,omitempty" doc:"Use this pool when a message names neither from nor from_pool"`
	// TenantID creates the pool for a tenant (platform mode), of the tenant's senders: see
	// Client.ForTenant.
	TenantID string `json:"tenant_id,omitempty" doc:"Platform mode: create the pool for this tenant, of its senders (platform-root keys); a tenant-bound key may only name its own" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S" maxLength:"64"`
}

// PhonePoolUpdate is the body of PATCH /api/v1/phone-pools/{id}: fields left out (nil) keep
// their value.
type PhonePoolUpdate struct {
	Name           *string  `json:"name,omitempty" doc:"A new name"`
	PhoneNumberIDs []string `json:"phone_number_ids,omitempty" doc:"The new member list, replacing the old one (an empty list empties the pool)"`
	Default        *bool    `json:"default,omitempty" doc:"Make this the default pool, or stop it being one"`
}

// PhonePoolPage is one page of ListPhonePools.
type PhonePoolPage struct {
	Pools   []*PhonePool
	HasMore bool
}

// PhonePoolList is one page of pools with the cursor of the next.
type PhonePoolList struct {
	Pools      []*PhonePool
	HasMore    bool
	NextCursor string
}

// Pool limits.
const (
	MaxPoolMembers = 100
	MaxPoolNameLen = 100
)

// CreatePhonePool creates a pool of the principal's senders.
func (c *Client) CreatePhonePool(ctx context.Context, p *Principal, req *PhonePoolRequest) (*PhonePool, error) {
	if err := p.require(PermissionPhoneNumbersWrite); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, req.TenantID)
	if err != nil {
		return nil, err
	}
	var v Validation
	validatePoolName(&v, req.Name)
	ids := req.PhoneNumberIDs
	if ids == nil {
		ids = []string{}
	}
	if err := c.validateMembers(ctx, &v, p, ids); err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := c.now()
	pool := &PhonePool{
		ID: NewID(PrefixPhonePool, now), OrgID: p.OrgID, TenantID: p.TenantID,
		Name: strings.TrimSpace(req.Name), Default: req.Default, PhoneNumberIDs: ids,
		CreatedAt: now, UpdatedAt: now,
	}
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.InsertPhonePool(ctx, pool) }); err != nil {
		return nil, err
	}
	return pool, nil
}

// UpdatePhonePool renames a pool, replaces its members or changes whether it is the default.
func (c *Client) UpdatePhonePool(ctx context.Context, p *Principal, id string, req *PhonePoolUpdate) (*PhonePool, error) {
	if err := p.require(PermissionPhoneNumbersWrite); err != nil {
		return nil, err
	}
	if !plausibleID(id) {
		return nil, NotFound("phone pool")
	}
	pool, err := c.store.GetPhonePool(ctx, p.Scope(), id)
	if err != nil {
		return nil, AsError(err)
	}
	var v Validation
	if req.Name != nil {
		validatePoolName(&v, *req.Name)
		pool.Name = strings.TrimSpace(*req.Name)
	}
	if req.PhoneNumberIDs != nil {
		// Members must share the pool's tenant, which may differ from an org-wide caller's.
		owner := &Principal{OrgID: pool.OrgID, TenantID: pool.TenantID}
		if err := c.validateMembers(ctx, &v, owner, req.PhoneNumberIDs); err != nil {
			return nil, err
		}
		pool.PhoneNumberIDs = req.PhoneNumberIDs
	}
	if req.Default != nil {
		pool.Default = *req.Default
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	pool.UpdatedAt = c.now()
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.UpdatePhonePool(ctx, p.Scope(), pool) }); err != nil {
		return nil, err
	}
	return pool, nil
}

// GetPhonePool returns a pool in the principal's scope.
func (c *Client) GetPhonePool(ctx context.Context, p *Principal, id string) (*PhonePool, error) {
	if err := p.require(PermissionPhoneNumbersRead, PermissionSMSSend, PermissionSMSRead); err != nil {
		return nil, err
	}
	if !plausibleID(id) {
		return nil, NotFound("phone pool")
	}
	pool, err := c.store.GetPhonePool(ctx, p.Scope(), id)
	if err != nil {
		return nil, AsError(err)
	}
	return pool, nil
}

// ListPhonePools returns a page of the principal's pools, newest first.
func (c *Client) ListPhonePools(ctx context.Context, p *Principal, lp ListParams) (*PhonePoolList, error) {
	if err := p.require(PermissionPhoneNumbersRead, PermissionSMSSend, PermissionSMSRead); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, lp.TenantID)
	if err != nil {
		return nil, err
	}
	q, err := pageQuery(lp)
	if err != nil {
		return nil, err
	}
	page, err := c.store.ListPhonePools(ctx, p.Scope(), q)
	if err != nil {
		return nil, AsError(err)
	}
	out := &PhonePoolList{Pools: page.Pools, HasMore: page.HasMore}
	if page.HasMore && len(page.Pools) > 0 {
		last := page.Pools[len(page.Pools)-1]
		out.NextCursor = EncodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return out, nil
}

// DeletePhonePool deletes a pool; its senders stay registered.
func (c *Client) DeletePhonePool(ctx context.Context, p *Principal, id string) error {
	if err := p.require(PermissionPhoneNumbersWrite); err != nil {
		return err
	}
	if !plausibleID(id) {
		return NotFound("phone pool")
	}
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.DeletePhonePool(ctx, p.Scope(), id) })
}

func validatePoolName(v *Validation, name string) {
	switch n := len([]rune(strings.TrimSpace(name))); {
	case n == 0:
		v.Add(FieldRequired, "Required", "name")
	case n > MaxPoolNameLen:
		v.Add(FieldTooBig, "at most 100 characters", "name")
	case strings.ContainsFunc(name, unicode.IsControl):
		v.Add(FieldInvalidString, "must not contain control characters", "name")
	}
}

// validateMembers checks that every id is a sender of the owner's exact tenant (org-wide
// senders for an org-wide owner), listed once.
func (c *Client) validateMembers(ctx context.Context, v *Validation, owner *Principal, ids []string) error {
	if len(ids) > MaxPoolMembers {
		v.Add(FieldTooBig, "at most 100 senders", "phone_number_ids")
		return nil
	}
	lookup := make([]string, 0, len(ids))
	for _, id := range ids {
		if plausibleID(id) {
			lookup = append(lookup, id)
		}
	}
	found, err := c.store.GetPhoneNumbers(ctx, owner.Scope(), lookup)
	if err != nil {
		return AsError(err)
	}
	byID := make(map[string]*PhoneNumber, len(found))
	for _, n := range found {
		byID[n.ID] = n
	}
	for i, id := range ids {
		n := byID[id]
		switch {
		case slices.Index(ids, id) < i:
			v.Add(FieldInvalid, "listed twice", "phone_number_ids", i)
		case n == nil:
			v.Add(FieldInvalid, "no registered sender has this id", "phone_number_ids", i)
		case n.TenantID != owner.TenantID:
			v.Add(FieldInvalid, "the sender belongs to a tenant; an org-wide pool holds org-wide senders only", "phone_number_ids", i)
		}
	}
	return nil
}

// poolCursors spreads a pool's messages evenly over its members: one round-robin counter per
// pool and candidate set. Counters live in the process, so several servers each spread
// evenly and so does their sum; a restart starts again at the first member. The zero value
// is ready to use.
type poolCursors struct {
	mu   sync.Mutex
	next map[string]uint64
}

// pick returns the next of candidates (never empty) for key.
func (pc *poolCursors) pick(key string, candidates []*PhoneNumber) *PhoneNumber {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.next == nil {
		pc.next = map[string]uint64{}
	}
	i := pc.next[key]
	pc.next[key] = i + 1
	return candidates[i%uint64(len(candidates))]
}
