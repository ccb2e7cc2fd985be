package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

func testAPIKeys(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	const org = "org_keys"
	full := &sendoka.APIKey{
		ID: sendoka.NewID(sendoka.PrefixAPIKey, b.at(0)), OrgID: org, TenantID: "ten_k", Name: "Production — ✓",
		Prefix: "sok_live_4fQ2", Hash: sendoka.HashKey("full"), Mode: sendoka.ModeLive,
		Permissions:      []sendoka.Permission{sendoka.PermissionEmailsSend, sendoka.PermissionSMSRead},
		AllowedCIDRs:     []string{"10.0.0.0/8", "2001:db8::/32"},
		AllowedDomainIDs: []string{"dom_1", "dom_2"},
		CreatedAt:        b.at(0), ExpiresAt: ptr(b.at(86_400_000_000)), RevokedAt: ptr(b.at(5)),
	}
	minimal := &sendoka.APIKey{
		ID: sendoka.NewID(sendoka.PrefixAPIKey, b.at(1)), OrgID: org, Prefix: "sok_test_abcd",
		Hash: sendoka.HashKey("minimal"), Mode: sendoka.ModeTest, CreatedAt: b.at(1),
	}
	empty := &sendoka.APIKey{
		ID: sendoka.NewID(sendoka.PrefixAPIKey, b.at(2)), OrgID: org, Prefix: "sok_test_efgh",
		Hash: sendoka.HashKey("empty lists"), Mode: sendoka.ModeTest, CreatedAt: b.at(2),
		Permissions: []sendoka.Permission{}, AllowedCIDRs: []string{}, AllowedDomainIDs: []string{},
	}
	otherOrg := &sendoka.APIKey{
		ID: sendoka.NewID(sendoka.PrefixAPIKey, b.at(3)), OrgID: "org_keys_other", Prefix: "sok_live_zzzz",
		Hash: sendoka.HashKey("other"), Mode: sendoka.ModeLive, CreatedAt: b.at(3),
	}
	for _, k := range []*sendoka.APIKey{full, minimal, empty, otherOrg} {
		b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAPIKey(ctx, k) })
	}

	for _, k := range []*sendoka.APIKey{full, minimal, empty, otherOrg} {
		got, err := b.store.GetAPIKeyByHash(ctx, k.Hash)
		require.NoError(t, err)
		require.Equal(t, k, got, "GetAPIKeyByHash(%s)", k.Name)
	}
	_, err := b.store.GetAPIKeyByHash(ctx, sendoka.HashKey("unknown"))
	requireCode(t, sendoka.CodeNotFound, err)

	keys, err := b.store.ListAPIKeys(ctx, sendoka.Scope{OrgID: org})
	require.NoError(t, err)
	require.Equal(t, []*sendoka.APIKey{empty, minimal, full}, keys, "newest first, own org only")
	keys, err = b.store.ListAPIKeys(ctx, sendoka.Scope{OrgID: "org_keys_none"})
	require.NoError(t, err)
	require.Empty(t, keys)

	t.Run("duplicate hash", func(t *testing.T) {
		dup := *minimal
		dup.ID = sendoka.NewID(sendoka.PrefixAPIKey, b.at(9))
		err := b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAPIKey(ctx, &dup) })
		requireCode(t, sendoka.CodeConflict, err)
	})
	t.Run("duplicate id", func(t *testing.T) {
		dup := *minimal
		dup.Hash = sendoka.HashKey("another")
		err := b.store.InTx(b.ctx(t), func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAPIKey(ctx, &dup) })
		requireCode(t, sendoka.CodeConflict, err)
	})
	keys, err = b.store.ListAPIKeys(ctx, sendoka.Scope{OrgID: org})
	require.NoError(t, err)
	require.Len(t, keys, 3, "conflicting inserts left nothing")
}

func testAPIKeyRevoke(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	const org = "org_revoke"
	key := &sendoka.APIKey{ID: sendoka.NewID(sendoka.PrefixAPIKey, b.base), OrgID: org, Prefix: "sok_live_rev1",
		Hash: sendoka.HashKey("revoke me"), Mode: sendoka.ModeLive, CreatedAt: b.base}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAPIKey(ctx, key) })
	revoke := func(orgID, id string, at time.Time) error {
		return b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			return tx.RevokeAPIKey(ctx, sendoka.Scope{OrgID: orgID}, id, at)
		})
	}

	requireCode(t, sendoka.CodeNotFound, revoke(org, sendoka.NewID(sendoka.PrefixAPIKey, b.base), b.at(1)))
	requireCode(t, sendoka.CodeNotFound, revoke("org_revoke_other", key.ID, b.at(1)))
	got, err := b.store.GetAPIKeyByHash(ctx, key.Hash)
	require.NoError(t, err)
	require.Nil(t, got.RevokedAt, "another org cannot revoke the key")

	require.NoError(t, revoke(org, key.ID, b.at(2)))
	require.NoError(t, revoke(org, key.ID, b.at(3)), "revoking twice is fine")
	got, err = b.store.GetAPIKeyByHash(ctx, key.Hash)
	require.NoError(t, err)
	require.Equal(t, ptr(b.at(2)), got.RevokedAt, "the first revocation time stays")
	keys, err := b.store.ListAPIKeys(ctx, sendoka.Scope{OrgID: org})
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, ptr(b.at(2)), keys[0].RevokedAt)
}

// testAPIKeyScope: listing and revoking keys see only the scope's keys: an org-wide scope
// every key of its org, a tenant scope its tenant's.
func testAPIKeyScope(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	const orgA, orgB = "org_ks_a", "org_ks_b"
	newKey := func(n int, org, tenant string) *sendoka.APIKey {
		return &sendoka.APIKey{ID: sendoka.NewID(sendoka.PrefixAPIKey, b.at(n)), OrgID: org, TenantID: tenant,
			Prefix: "sok_live_sc00", Hash: sendoka.HashKey("scope " + org + tenant), Mode: sendoka.ModeLive, CreatedAt: b.at(n)}
	}
	orgWide, tenant1, tenant2, other := newKey(0, orgA, ""), newKey(1, orgA, "ten_1"), newKey(2, orgA, "ten_2"), newKey(3, orgB, "ten_1")
	all := []*sendoka.APIKey{orgWide, tenant1, tenant2, other}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		for _, k := range all {
			if err := tx.InsertAPIKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	keyIDs := func(keys []*sendoka.APIKey) []string {
		var out []string
		for _, k := range keys {
			out = append(out, k.ID)
		}
		return out
	}
	cases := []struct {
		name    string
		scope   sendoka.Scope
		visible []*sendoka.APIKey // newest first
	}{
		{"org-wide scope sees every tenant", sendoka.Scope{OrgID: orgA}, []*sendoka.APIKey{tenant2, tenant1, orgWide}},
		{"tenant scope sees its tenant only", sendoka.Scope{OrgID: orgA, TenantID: "ten_1"}, []*sendoka.APIKey{tenant1}},
		{"same tenant id in another org", sendoka.Scope{OrgID: orgB, TenantID: "ten_1"}, []*sendoka.APIKey{other}},
		{"unknown org", sendoka.Scope{OrgID: "org_ks_c"}, nil},
		{"empty scope", sendoka.Scope{}, nil},
	}
	for i, c := range cases {
		keys, err := b.store.ListAPIKeys(ctx, c.scope)
		require.NoError(t, err, c.name)
		require.Equal(t, keyIDs(c.visible), keyIDs(keys), c.name)
		at := b.at(1000 + i)
		for _, k := range all {
			if slices.Contains(c.visible, k) {
				continue
			}
			err := b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.RevokeAPIKey(ctx, c.scope, k.ID, at) })
			requireCode(t, sendoka.CodeNotFound, err)
		}
	}
	for _, k := range all {
		got, err := b.store.GetAPIKeyByHash(ctx, k.Hash)
		require.NoError(t, err)
		require.Equal(t, k, got, "nothing out of scope was written")
	}
	// In scope, the write goes through.
	scope := sendoka.Scope{OrgID: orgA, TenantID: "ten_2"}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		return tx.RevokeAPIKey(ctx, scope, tenant2.ID, b.at(2001))
	})
	got, err := b.store.GetAPIKeyByHash(ctx, tenant2.Hash)
	require.NoError(t, err)
	require.Equal(t, ptr(b.at(2001)), got.RevokedAt)
}
