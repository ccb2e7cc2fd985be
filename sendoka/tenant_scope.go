package sendoka

import (
	"context"
	"sync"
	"time"
)

// ForTenant returns the principal that acts for tenantID on behalf of p: how a platform-root
// key acts on a tenant's resources (tenant_id on create bodies, ?tenant_id= on lists).
//
//   - tenantID "": p itself, unchanged; the database is not touched.
//   - p is tenant-bound: p itself when tenantID is its own tenant, CodeTenantForbidden for
//     any other (whether or not it exists).
//   - p is platform-root: a copy of p bound to tenantID, when tenantID is a tenant of p's org
//     that is not deleted; CodeNotFound ("tenant not found") otherwise.
//
// The existence of a tenant is cached in process for at most TenantCacheTTL: a tenant deleted
// by another process may still be named for that long (the deletion's clean-up job waits
// longer than that before it starts, see DeleteTenant).
func (c *Client) ForTenant(ctx context.Context, p *Principal, tenantID string) (*Principal, error) {
	if tenantID == "" {
		return p, nil
	}
	if p == nil {
		return nil, Errorf(CodeUnauthorized, "missing API key")
	}
	if p.TenantID != "" {
		if tenantID == p.TenantID {
			return p, nil
		}
		return nil, Errorf(CodeTenantForbidden, "this key is bound to tenant %s and cannot act on another tenant", p.TenantID)
	}
	if !plausibleID(tenantID) {
		return nil, NotFound("tenant")
	}
	if !c.tenants.known(p.OrgID, tenantID, c.clock.Now()) {
		at := c.clock.Now()
		if _, err := c.store.GetTenant(ctx, Scope{OrgID: p.OrgID}, tenantID); err != nil {
			return nil, AsError(err)
		}
		c.tenants.put(p.OrgID, tenantID, at)
	}
	bound := *p
	bound.TenantID = tenantID
	return &bound, nil
}

// TenantCacheTTL bounds how long ForTenant trusts an earlier lookup of a tenant.
const TenantCacheTTL = time.Second

// maxCachedTenants bounds the tenant cache; past it, a full sweep drops what is stale and
// then arbitrary entries make room.
const maxCachedTenants = 10_000

// tenantCache remembers which tenants existed, and when that was read, so a send that names
// a tenant does not read it every time. Only tenants that exist are cached: an unknown id
// is read again on every call. The zero value is ready to use. Times are on the Client's
// Clock.
type tenantCache struct {
	mu sync.Mutex
	m  boundedMap[time.Time] // by org and tenant id: when the lookup that found it began
}

func tenantKey(orgID, tenantID string) string { return orgID + "/" + tenantID }

// known reports whether the tenant was found less than TenantCacheTTL before now.
func (tc *tenantCache) known(orgID, tenantID string, now time.Time) bool {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	at, ok := tc.m.m[tenantKey(orgID, tenantID)]
	return ok && within(now, at, TenantCacheTTL)
}

// put records that a lookup begun at at found the tenant.
func (tc *tenantCache) put(orgID, tenantID string, at time.Time) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.m.m == nil {
		tc.m.m = map[string]time.Time{}
	}
	tc.m.put(at, maxCachedTenants, tenantKey(orgID, tenantID), at, func(t time.Time) bool {
		return !within(at, t, TenantCacheTTL)
	})
}

// forget drops a tenant this process deleted, so its next lookup reads the store.
func (tc *tenantCache) forget(orgID, tenantID string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	delete(tc.m.m, tenantKey(orgID, tenantID))
}
