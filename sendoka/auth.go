package sendoka

import (
	"context"
	"net/netip"
	"slices"
	"strings"
)

// Authenticate turns a bearer token into a Principal. A missing, malformed, unknown,
// revoked or expired key is CodeUnauthorized (one message for all, so a caller learns
// nothing about which keys exist); a caller outside the key's CIDRs is CodeIPNotAllowed.
// ip may be the zero Addr when the caller's address is unknown.
//
// Lookups are cached in process (AuthCacheConfig): a key revoked by any process sharing the
// store is refused within RevocationDelay, and expiry and revocation times are checked
// against the Clock on every call. A successful call records the key's LastUsedAt, at most
// once per LastUsedInterval, in the background: that write never delays or fails the call.
func (c *Client) Authenticate(ctx context.Context, token string, ip netip.Addr) (*Principal, error) {
	if token == "" {
		return nil, Errorf(CodeUnauthorized, "missing API key")
	}
	if _, ok := ParseKey(token); !ok {
		return nil, Errorf(CodeUnauthorized, "invalid API key")
	}
	key, err := c.keys.lookup(ctx, HashKey(token))
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, Errorf(CodeUnauthorized, "invalid API key")
	}
	now := c.now()
	if key.RevokedAt != nil && !key.RevokedAt.After(now) {
		return nil, Errorf(CodeUnauthorized, "invalid API key")
	}
	if key.ExpiresAt != nil && !key.ExpiresAt.After(now) {
		return nil, Errorf(CodeUnauthorized, "invalid API key")
	}
	if len(key.AllowedCIDRs) > 0 && (!ip.IsValid() || !ipAllowed(key.AllowedCIDRs, ip)) {
		return nil, Errorf(CodeIPNotAllowed, "caller IP is outside this key's allowed_cidrs")
	}
	c.keys.touch(key, now)
	// The key may be cached and shared: the principal gets copies of its lists.
	return &Principal{
		OrgID:            key.OrgID,
		TenantID:         key.TenantID,
		KeyID:            key.ID,
		Mode:             key.Mode,
		Permissions:      slices.Clone(key.Permissions),
		AllowedCIDRs:     slices.Clone(key.AllowedCIDRs),
		AllowedDomainIDs: slices.Clone(key.AllowedDomainIDs),
		ExpiresAt:        key.ExpiresAt,
	}, nil
}

// ListOrgs returns every org, oldest first.
func (c *Client) ListOrgs(ctx context.Context) ([]*Org, error) {
	orgs, err := c.store.ListOrgs(ctx)
	if err != nil {
		return nil, AsError(err)
	}
	return orgs, nil
}

// BootstrapOptions controls Bootstrap.
type BootstrapOptions struct {
	// OrgName names the default org when it is created. Default: "default".
	OrgName string
	// Keys, when set, are the exact plaintext keys to ensure exist (full access) on the default
	// org; none is generated. Keys that already exist are left alone.
	Keys []string
}

// BootstrapResult reports what Bootstrap did.
type BootstrapResult struct {
	Org *Org
	// CreatedOrg is true when the store was empty and the default org was made now.
	CreatedOrg bool
	// NewKeys are the plaintexts of keys generated now: shown once, never again.
	NewKeys []string
}

// Bootstrap prepares an empty store: on first start it creates the default org and, unless
// opts.Keys names the keys to use, one live and one test key. On later starts it only adds
// the keys of opts.Keys that are missing. Every start makes sure the domains of
// Config.VerifiedDomains are verified domains of the default org.
func (c *Client) Bootstrap(ctx context.Context, opts BootstrapOptions) (*BootstrapResult, error) {
	orgs, err := c.store.ListOrgs(ctx)
	if err != nil {
		return nil, AsError(err)
	}
	res := &BootstrapResult{}
	if len(orgs) > 0 {
		res.Org = orgs[0]
	} else {
		name := opts.OrgName
		if name == "" {
			name = "default"
		}
		now := c.now()
		res.Org = &Org{ID: NewID(PrefixOrg, now), Name: name, Plan: c.plans.defaultName, CreatedAt: now}
		res.CreatedOrg = true
		if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.InsertOrg(ctx, res.Org) }); err != nil {
			return nil, err
		}
	}
	for i, k := range opts.Keys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		mode, ok := ParseKey(k)
		if !ok {
			return nil, Errorf(CodeValidation, "bootstrap key %d is not sok_live_ or sok_test_ followed by 24 or more base62 characters", i+1)
		}
		if _, err := c.store.GetAPIKeyByHash(ctx, HashKey(k)); err == nil {
			continue
		} else if ErrorCode(err) != CodeNotFound {
			return nil, AsError(err)
		}
		if _, _, err := c.CreateAPIKey(ctx, SystemPrincipal(res.Org.ID, mode), CreateKeyParams{Name: "bootstrap", Mode: mode, Plaintext: k}); err != nil {
			return nil, err
		}
	}
	if err := c.bootstrapDomains(ctx, res.Org); err != nil { // domain_bootstrap.go
		return nil, err
	}
	if res.CreatedOrg && len(opts.Keys) == 0 {
		for _, mode := range []Mode{ModeLive, ModeTest} {
			_, plain, err := c.CreateAPIKey(ctx, SystemPrincipal(res.Org.ID, mode), CreateKeyParams{Name: "default " + string(mode), Mode: mode})
			if err != nil {
				return nil, err
			}
			res.NewKeys = append(res.NewKeys, plain)
		}
	}
	return res, nil
}
