package sendoka

import (
	"context"
	"net/netip"
	"slices"
	"time"
)

// Managing API keys takes api_keys:write (reading them, api_keys:read), and a caller never
// makes or manages a key with more power than its own:
//
//   - scopes: every scope of the key must be one the caller holds (full_access only from a
//     full-access caller); a key created without scopes gets the caller's;
//   - mode: a test key creates and manages test keys only;
//   - tenant: a tenant-bound caller's keys are bound to its tenant (naming another is
//     CodeTenantForbidden); a root caller may bind a key to any tenant of the org;
//   - allowed_cidrs and allowed_domain_ids: a caller limited by them makes keys limited at
//     least as much (a key created without them inherits the caller's);
//   - expiry: a key never outlives its creator (one created without expires_at gets the
//     caller's).
//
// A key beyond the caller's power is CodeInsufficientScope, naming what is missing.

// UpdateKeyParams changes a key. Nil fields stay as they are; the mode, tenant and secret of
// a key never change.
type UpdateKeyParams struct {
	Name             *string
	Permissions      *[]Permission
	AllowedCIDRs     *[]string
	AllowedDomainIDs *[]string
	// ExpiresAt, when set, replaces the expiry; a pointer to nil removes it.
	ExpiresAt **time.Time
}

// CreateAPIKey stores a new key of the principal's org (and tenant) and returns it with its
// plaintext, which is never available again. The org must exist: an unknown org is
// CodeNotFound, and no key is created.
func (c *Client) CreateAPIKey(ctx context.Context, p *Principal, params CreateKeyParams) (*APIKey, string, error) {
	if err := p.require(PermissionAPIKeysWrite); err != nil {
		return nil, "", err
	}
	if err := params.validate(c.now()); err != nil {
		return nil, "", err
	}
	tenant := params.TenantID
	if p.TenantID != "" {
		if tenant != "" && tenant != p.TenantID {
			return nil, "", Errorf(CodeTenantForbidden, "this key is bound to tenant %s and cannot create keys of another", p.TenantID)
		}
		tenant = p.TenantID
	} else if tenant != "" {
		// Read, not ForTenant's cache: no key of a tenant deleted a moment ago.
		if !plausibleID(tenant) {
			return nil, "", NotFound("tenant")
		}
		if _, err := c.store.GetTenant(ctx, Scope{OrgID: p.OrgID}, tenant); err != nil {
			return nil, "", AsError(err)
		}
	}
	if err := c.requireOrg(ctx, p.OrgID); err != nil {
		return nil, "", err
	}
	now := c.now()
	key := &APIKey{
		ID:               NewID(PrefixAPIKey, now),
		OrgID:            p.OrgID,
		TenantID:         tenant,
		Name:             params.Name,
		Mode:             params.Mode,
		Permissions:      params.Permissions,
		AllowedCIDRs:     params.AllowedCIDRs,
		AllowedDomainIDs: params.AllowedDomainIDs,
		CreatedAt:        now,
		ExpiresAt:        params.ExpiresAt,
	}
	if err := c.checkKeyDomains(ctx, p.OrgID, tenant, params.AllowedDomainIDs); err != nil {
		return nil, "", err
	}
	inheritLimits(p, key)
	if err := p.mayGrant(key); err != nil {
		return nil, "", err
	}
	plaintext := params.Plaintext
	if plaintext == "" {
		plaintext = NewKeyPlaintext(params.Mode)
	}
	key.Prefix, key.Hash = KeyVisible(plaintext), HashKey(plaintext)
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.InsertAPIKey(ctx, key) }); err != nil {
		return nil, "", err
	}
	// Someone may have tried the plaintext before it existed.
	c.keys.forgetHash(key.Hash)
	return key, plaintext, nil
}

// inheritLimits gives a new key the caller's scopes, CIDRs, domains and expiry where the
// request left them out.
func inheritLimits(p *Principal, key *APIKey) {
	if len(key.Permissions) == 0 {
		key.Permissions = slices.Clone(p.Permissions)
	}
	if len(key.AllowedCIDRs) == 0 {
		key.AllowedCIDRs = slices.Clone(p.AllowedCIDRs)
	}
	if len(key.AllowedDomainIDs) == 0 {
		key.AllowedDomainIDs = slices.Clone(p.AllowedDomainIDs)
	}
	if key.ExpiresAt == nil && p.ExpiresAt != nil {
		at := *p.ExpiresAt
		key.ExpiresAt = &at
	}
}

// mayGrant returns CodeInsufficientScope (or CodeTenantForbidden) unless the principal holds
// at least the power of key.
func (p *Principal) mayGrant(key *APIKey) error {
	if p.Mode == ModeTest && key.Mode != ModeTest {
		return Errorf(CodeInsufficientScope, "a test key can only create and manage test keys")
	}
	if p.TenantID != "" && key.TenantID != p.TenantID {
		return Errorf(CodeTenantForbidden, "this key is bound to tenant %s", p.TenantID)
	}
	for _, perm := range key.Permissions {
		if perm == PermissionFullAccess && !slices.Contains(p.Permissions, PermissionFullAccess) {
			return Errorf(CodeInsufficientScope, "only a full-access key can grant full_access")
		}
		if !p.Can(perm) {
			return Errorf(CodeInsufficientScope, "this key lacks the %s scope, so it cannot grant it", perm)
		}
	}
	if len(p.AllowedCIDRs) > 0 {
		if len(key.AllowedCIDRs) == 0 {
			return Errorf(CodeInsufficientScope, "this key is limited by allowed_cidrs; a key it manages must be too")
		}
		for _, c := range key.AllowedCIDRs {
			if !cidrWithin(c, p.AllowedCIDRs) {
				return Errorf(CodeInsufficientScope, "allowed_cidrs %s is outside this key's allowed_cidrs", c)
			}
		}
	}
	if len(p.AllowedDomainIDs) > 0 {
		if len(key.AllowedDomainIDs) == 0 {
			return Errorf(CodeInsufficientScope, "this key is limited by allowed_domain_ids; a key it manages must be too")
		}
		for _, d := range key.AllowedDomainIDs {
			if !slices.Contains(p.AllowedDomainIDs, d) {
				return Errorf(CodeInsufficientScope, "domain %s is not in this key's allowed_domain_ids", d)
			}
		}
	}
	if p.ExpiresAt != nil && (key.ExpiresAt == nil || key.ExpiresAt.After(*p.ExpiresAt)) {
		return Errorf(CodeInsufficientScope, "a key cannot outlive the key that manages it (this one expires at %s)", p.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}

// checkKeyDomains requires every id of a key's allowed_domain_ids to be a sending domain the
// key can see: its org's, and its tenant's for a tenant-bound key, or the built-in sandbox
// domain. Anything else is a VALIDATION_ERROR at the id.
func (c *Client) checkKeyDomains(ctx context.Context, orgID, tenantID string, ids []string) error {
	var v Validation
	for i, id := range ids {
		if id == SandboxDomainID {
			continue
		}
		_, err := c.store.GetDomain(ctx, Scope{OrgID: orgID, TenantID: tenantID}, id)
		switch {
		case ErrorCode(err) == CodeNotFound:
			v.Add(FieldInvalid, "no such sending domain for this key; see GET /api/v1/domains", "allowed_domain_ids", i)
		case err != nil:
			return AsError(err)
		}
	}
	return v.Err()
}

// cidrWithin reports whether the prefix c lies inside one of outer.
func cidrWithin(c string, outer []string) bool {
	in, err := netip.ParsePrefix(c)
	if err != nil {
		return false
	}
	in = in.Masked()
	for _, o := range outer {
		op, err := netip.ParsePrefix(o)
		if err != nil {
			continue
		}
		if op.Addr().Is4() == in.Addr().Is4() && op.Bits() <= in.Bits() && op.Contains(in.Addr()) {
			return true
		}
	}
	return false
}

// requireOrg returns CodeNotFound, naming the id, unless the org exists. Orgs are few (one
// per installation until platform mode), so the list is read rather than adding a lookup to
// the Store.
func (c *Client) requireOrg(ctx context.Context, orgID string) error {
	orgs, err := c.store.ListOrgs(ctx)
	if err != nil {
		return AsError(err)
	}
	for _, o := range orgs {
		if o.ID == orgID {
			return nil
		}
	}
	return Errorf(CodeNotFound, "org %q not found", orgID)
}

// ListAPIKeys returns the keys in the principal's scope, newest first (hashes only, never
// plaintext), with when each was last used. A test principal sees test keys only.
func (c *Client) ListAPIKeys(ctx context.Context, p *Principal) ([]*APIKey, error) {
	if err := p.require(PermissionAPIKeysRead); err != nil {
		return nil, err
	}
	keys, err := c.store.ListAPIKeys(ctx, p.Scope())
	if err != nil {
		return nil, AsError(err)
	}
	if p.Mode == ModeTest {
		keys = slices.DeleteFunc(keys, func(k *APIKey) bool { return k.Mode != ModeTest })
	}
	return keys, nil
}

// GetAPIKey returns a key in the principal's scope (a test principal's: a test key), or
// CodeNotFound.
func (c *Client) GetAPIKey(ctx context.Context, p *Principal, id string) (*APIKey, error) {
	if err := p.require(PermissionAPIKeysRead); err != nil {
		return nil, err
	}
	key, err := c.store.GetAPIKey(ctx, p.Scope(), id)
	if err != nil {
		return nil, AsError(err)
	}
	if p.Mode == ModeTest && key.Mode != ModeTest {
		return nil, NotFound("api key")
	}
	return key, nil
}

// UpdateAPIKey changes a key's name, scopes, CIDRs, domains or expiry. Neither the key as it
// is nor as it becomes may exceed the principal's power. A revoked key cannot change
// (CodeNotFound, as for a key outside the scope). Every process sees the change within
// RevocationDelay.
func (c *Client) UpdateAPIKey(ctx context.Context, p *Principal, id string, params UpdateKeyParams) (*APIKey, error) {
	if err := p.require(PermissionAPIKeysWrite); err != nil {
		return nil, err
	}
	if err := params.validate(c.now()); err != nil {
		return nil, err
	}
	var out *APIKey
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		key, err := tx.GetAPIKey(ctx, p.Scope(), id)
		if err != nil {
			return err
		}
		if params.AllowedDomainIDs != nil {
			if err := c.checkKeyDomains(ctx, key.OrgID, key.TenantID, *params.AllowedDomainIDs); err != nil {
				return err
			}
		}
		if key.RevokedAt != nil || (p.Mode == ModeTest && key.Mode != ModeTest) {
			return NotFound("api key")
		}
		if err := p.mayGrant(key); err != nil {
			return err
		}
		if params.Name != nil {
			key.Name = *params.Name
		}
		if params.Permissions != nil {
			key.Permissions = slices.Clone(*params.Permissions)
		}
		if params.AllowedCIDRs != nil {
			key.AllowedCIDRs = slices.Clone(*params.AllowedCIDRs)
		}
		if params.AllowedDomainIDs != nil {
			key.AllowedDomainIDs = slices.Clone(*params.AllowedDomainIDs)
		}
		if params.ExpiresAt != nil {
			key.ExpiresAt = *params.ExpiresAt
		}
		if len(key.Permissions) == 0 {
			var v Validation
			v.Add(FieldInvalid, "a key needs at least one scope", "scopes")
			return v.Err()
		}
		if err := p.mayGrant(key); err != nil {
			return err
		}
		out = key
		return tx.UpdateAPIKey(ctx, p.Scope(), key)
	})
	c.keys.forgetID(id) // even after an error: the change may have committed unseen
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RevokeAPIKey revokes a key in the principal's scope at once: this Client refuses it from
// its next request, every other process sharing the store within RevocationDelay. An id
// outside the scope is CodeNotFound; a key beyond the principal's power is
// CodeInsufficientScope.
func (c *Client) RevokeAPIKey(ctx context.Context, p *Principal, keyID string) error {
	if err := p.require(PermissionAPIKeysWrite); err != nil {
		return err
	}
	now := c.now()
	err := c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		key, err := tx.GetAPIKey(ctx, p.Scope(), keyID)
		if err != nil {
			return err
		}
		if p.Mode == ModeTest && key.Mode != ModeTest {
			return NotFound("api key")
		}
		if err := p.mayGrant(key); err != nil {
			return err
		}
		return tx.RevokeAPIKey(ctx, p.Scope(), keyID, now)
	})
	c.keys.forgetID(keyID) // even after an error: the revocation may have committed unseen
	return err
}
