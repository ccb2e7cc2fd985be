package sendoka_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// TestCreateAPIKeyUnknownOrg: a key is only ever created for an org that exists; an unknown
// org is NOT_FOUND, naming it, and leaves no key behind.
func TestCreateAPIKeyUnknownOrg(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		for _, mode := range []sendoka.Mode{sendoka.ModeLive, sendoka.ModeTest} {
			key, plain, err := b.client.CreateAPIKey(ctx, sendoka.SystemPrincipal("org_doesnotexist", mode), sendoka.CreateKeyParams{Mode: mode})
			require.Error(t, err)
			require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
			require.Contains(t, sendoka.AsError(err).Message, `"org_doesnotexist"`, "the message names the org")
			require.Nil(t, key)
			require.Empty(t, plain)
		}
		keys, err := b.client.ListAPIKeys(ctx, sendoka.SystemPrincipal("org_doesnotexist", sendoka.ModeLive))
		require.NoError(t, err)
		require.Empty(t, keys, "nothing was stored")

		// A given plaintext (bootstrap) is refused the same way and never authenticates.
		plain := sendoka.KeyPrefixLive + "abcdefghijklmnopqrstuvwxyz0123"
		_, _, err = b.client.CreateAPIKey(ctx, sendoka.SystemPrincipal("org_x", sendoka.ModeLive), sendoka.CreateKeyParams{Mode: sendoka.ModeLive, Plaintext: plain})
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
		_, err = b.client.Authenticate(ctx, plain, netip.Addr{})
		require.Equal(t, sendoka.CodeUnauthorized, sendoka.ErrorCode(err))

		// The org that exists gets its key.
		key, plain, err := b.client.CreateAPIKey(ctx, sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive), sendoka.CreateKeyParams{Mode: sendoka.ModeLive})
		require.NoError(t, err)
		require.Equal(t, b.orgID, key.OrgID)
		p, err := b.client.Authenticate(ctx, plain, netip.Addr{})
		require.NoError(t, err)
		require.Equal(t, b.orgID, p.OrgID)
	})
}

// TestAPIKeyPrincipal: managing keys takes full access, and a principal manages the keys of
// its own scope: its org's, and only its tenant's when it is tenant-bound. Keys of another
// org or tenant do not exist for it.
func TestAPIKeyPrincipal(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newDBBundle(t, db)
		ctx := context.Background()
		admin := sendoka.SystemPrincipal(b.orgID, sendoka.ModeLive)

		// A key without full access manages no keys, not even its own.
		sendOnly, sendPlain, err := b.client.CreateAPIKey(ctx, admin, sendoka.CreateKeyParams{Mode: sendoka.ModeLive,
			Permissions: []sendoka.Permission{sendoka.PermissionEmailsSend}})
		require.NoError(t, err)
		p, err := b.client.Authenticate(ctx, sendPlain, netip.Addr{})
		require.NoError(t, err)
		_, _, err = b.client.CreateAPIKey(ctx, p, sendoka.CreateKeyParams{Mode: sendoka.ModeLive})
		requireCode(t, sendoka.CodeInsufficientScope, err)
		_, err = b.client.ListAPIKeys(ctx, p)
		requireCode(t, sendoka.CodeInsufficientScope, err)
		requireCode(t, sendoka.CodeInsufficientScope, b.client.RevokeAPIKey(ctx, p, sendOnly.ID))
		_, err = b.client.ListAPIKeys(ctx, nil)
		requireCode(t, sendoka.CodeUnauthorized, err)

		// Tenant-bound principals create keys of their tenant, and see and revoke only those.
		tenant2, err := b.client.CreateTenant(ctx, admin, &sendoka.TenantRequest{Name: "Two", Slug: "two"})
		require.NoError(t, err)
		ten1 := &sendoka.Principal{OrgID: b.orgID, TenantID: "ten_1", Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}
		ten2 := &sendoka.Principal{OrgID: b.orgID, TenantID: tenant2.ID, Mode: sendoka.ModeLive, Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}
		k1, _, err := b.client.CreateAPIKey(ctx, ten1, sendoka.CreateKeyParams{Mode: sendoka.ModeLive})
		require.NoError(t, err)
		require.Equal(t, "ten_1", k1.TenantID, "the principal's tenant")
		_, _, err = b.client.CreateAPIKey(ctx, ten1, sendoka.CreateKeyParams{Mode: sendoka.ModeLive, TenantID: tenant2.ID})
		requireCode(t, sendoka.CodeTenantForbidden, err)
		// An org-wide principal names a tenant that exists in its org.
		for _, unknown := range []string{"ten_2", sendoka.NewID(sendoka.PrefixTenant, b.clock.now()), "ten_\x00"} {
			_, _, err = b.client.CreateAPIKey(ctx, admin, sendoka.CreateKeyParams{Mode: sendoka.ModeTest, TenantID: unknown})
			requireCode(t, sendoka.CodeNotFound, err)
		}
		k2, _, err := b.client.CreateAPIKey(ctx, admin, sendoka.CreateKeyParams{Mode: sendoka.ModeTest, TenantID: tenant2.ID})
		require.NoError(t, err)
		require.Equal(t, tenant2.ID, k2.TenantID, "an org-wide principal names the tenant")

		ids := func(p *sendoka.Principal) []string {
			keys, err := b.client.ListAPIKeys(ctx, p)
			require.NoError(t, err)
			var out []string
			for _, k := range keys {
				out = append(out, k.ID)
			}
			return out
		}
		require.Equal(t, []string{k1.ID}, ids(ten1))
		require.Equal(t, []string{k2.ID}, ids(ten2))
		require.Contains(t, ids(admin), k1.ID)
		require.Contains(t, ids(admin), k2.ID)
		require.Empty(t, ids(sendoka.SystemPrincipal("org_other", sendoka.ModeLive)))

		requireCode(t, sendoka.CodeNotFound, b.client.RevokeAPIKey(ctx, ten1, k2.ID))
		requireCode(t, sendoka.CodeNotFound, b.client.RevokeAPIKey(ctx, sendoka.SystemPrincipal("org_other", sendoka.ModeLive), k1.ID))
		require.NoError(t, b.client.RevokeAPIKey(ctx, ten2, k2.ID))
		for _, k := range []struct {
			p       *sendoka.Principal
			id      string
			revoked bool
		}{{admin, k1.ID, false}, {admin, k2.ID, true}} {
			keys, err := b.client.ListAPIKeys(ctx, k.p)
			require.NoError(t, err)
			for _, got := range keys {
				if got.ID == k.id {
					require.Equal(t, k.revoked, got.RevokedAt != nil, k.id)
				}
			}
		}
	})
}
