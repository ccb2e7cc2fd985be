package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// feedWait bounds the waits for a KeyInvalidations feed: it reports within milliseconds.
const feedWait = 10 * time.Second

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
		LastUsedAt: ptr(b.at(4)),
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

// testAPIKeyGetUpdate: a key is read and changed by id within its scope only; an update
// writes only the changeable fields, never a revoked key, and reaches the key feed.
func testAPIKeyGetUpdate(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	const org = "org_upd_key"
	exp := b.at(100)
	key := &sendoka.APIKey{ID: sendoka.NewID(sendoka.PrefixAPIKey, b.base), OrgID: org, TenantID: "ten_k", Name: "old",
		Prefix: "sok_live_upd1", Hash: sendoka.HashKey("update me"), Mode: sendoka.ModeLive, CreatedAt: b.base,
		Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAPIKey(ctx, key) })
	inScope := sendoka.Scope{OrgID: org, TenantID: "ten_k"}

	got, err := b.store.GetAPIKey(ctx, sendoka.Scope{OrgID: org}, key.ID)
	require.NoError(t, err, "the org sees its tenant's key")
	require.Equal(t, "old", got.Name)
	_, err = b.store.GetAPIKey(ctx, sendoka.Scope{OrgID: org, TenantID: "ten_other"}, key.ID)
	requireCode(t, sendoka.CodeNotFound, err)
	_, err = b.store.GetAPIKey(ctx, sendoka.Scope{OrgID: "org_upd_other"}, key.ID)
	requireCode(t, sendoka.CodeNotFound, err)

	update := func(scope sendoka.Scope, k *sendoka.APIKey) error {
		return b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.UpdateAPIKey(ctx, scope, k) })
	}
	changed := *got
	changed.Name = "new"
	changed.Permissions = []sendoka.Permission{sendoka.PermissionEmailsSend}
	changed.AllowedCIDRs = []string{"10.0.0.0/8"}
	changed.AllowedDomainIDs = []string{"dom_1"}
	changed.ExpiresAt = &exp
	changed.Mode, changed.TenantID, changed.Hash, changed.OrgID = sendoka.ModeTest, "ten_evil", "evil", "org_evil"
	requireCode(t, sendoka.CodeNotFound, update(sendoka.Scope{OrgID: org, TenantID: "ten_other"}, &changed))
	require.NoError(t, update(inScope, &changed))
	got, err = b.store.GetAPIKey(ctx, inScope, key.ID)
	require.NoError(t, err)
	require.Equal(t, "new", got.Name)
	require.Equal(t, []sendoka.Permission{sendoka.PermissionEmailsSend}, got.Permissions)
	require.Equal(t, []string{"10.0.0.0/8"}, got.AllowedCIDRs)
	require.Equal(t, []string{"dom_1"}, got.AllowedDomainIDs)
	require.Equal(t, &exp, got.ExpiresAt)
	require.Equal(t, sendoka.ModeLive, got.Mode, "the mode never changes")
	require.Equal(t, "ten_k", got.TenantID, "nor the tenant")
	require.Equal(t, key.Hash, got.Hash, "nor the secret")

	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.RevokeAPIKey(ctx, inScope, key.ID, b.at(5)) })
	changed.Name = "after revoke"
	requireCode(t, sendoka.CodeNotFound, update(inScope, &changed))
	got, err = b.store.GetAPIKey(ctx, inScope, key.ID)
	require.NoError(t, err)
	require.Equal(t, "new", got.Name, "a revoked key does not change")
}

// testAPIKeyScope: listing, revoking and touching keys see only the scope's keys: an
// org-wide scope every key of its org, a tenant scope its tenant's.
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
			wrote, err := b.store.TouchAPIKey(ctx, c.scope, k.ID, at, at)
			require.NoError(t, err, c.name)
			require.False(t, wrote, "%s: touch %s", c.name, k.ID)
			err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.RevokeAPIKey(ctx, c.scope, k.ID, at) })
			requireCode(t, sendoka.CodeNotFound, err)
		}
	}
	for _, k := range all {
		got, err := b.store.GetAPIKeyByHash(ctx, k.Hash)
		require.NoError(t, err)
		require.Equal(t, k, got, "nothing out of scope was written")
	}
	// In scope, the writes go through.
	scope := sendoka.Scope{OrgID: orgA, TenantID: "ten_2"}
	wrote, err := b.store.TouchAPIKey(ctx, scope, tenant2.ID, b.at(2000), b.at(2000))
	require.NoError(t, err)
	require.True(t, wrote)
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		return tx.RevokeAPIKey(ctx, scope, tenant2.ID, b.at(2001))
	})
	got, err := b.store.GetAPIKeyByHash(ctx, tenant2.Hash)
	require.NoError(t, err)
	require.Equal(t, ptr(b.at(2000)), got.LastUsedAt)
	require.Equal(t, ptr(b.at(2001)), got.RevokedAt)
}

// testAPIKeyTouch: LastUsedAt is written when the key was never used or last used before
// ifBefore, and only then; of concurrent touches of one window exactly one writes.
func testAPIKeyTouch(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	const org = "org_touch"
	key := &sendoka.APIKey{ID: sendoka.NewID(sendoka.PrefixAPIKey, b.base), OrgID: org, Prefix: "sok_live_tch1",
		Hash: sendoka.HashKey("touch me"), Mode: sendoka.ModeLive, CreatedAt: b.base}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAPIKey(ctx, key) })
	scope := sendoka.Scope{OrgID: org}
	lastUsed := func() *time.Time {
		got, err := b.store.GetAPIKeyByHash(ctx, key.Hash)
		require.NoError(t, err)
		return got.LastUsedAt
	}
	touch := func(at time.Time) bool {
		wrote, err := b.store.TouchAPIKey(ctx, scope, key.ID, at, at.Add(-time.Minute))
		require.NoError(t, err)
		return wrote
	}
	require.Nil(t, lastUsed(), "never used")

	t0 := b.at(7)
	require.True(t, touch(t0), "the first use writes")
	require.Equal(t, ptr(t0), lastUsed())
	require.False(t, touch(t0.Add(10*time.Second)), "10 s later: within the window")
	require.False(t, touch(t0.Add(time.Minute)), "exactly a minute later: still within it")
	require.Equal(t, ptr(t0), lastUsed())
	t1 := t0.Add(61 * time.Second)
	require.True(t, touch(t1), "61 s later")
	require.Equal(t, ptr(t1), lastUsed())
	require.False(t, touch(t0.Add(2*time.Minute)), "an older time never overwrites a newer one")
	require.Equal(t, ptr(t1), lastUsed())

	wrote, err := b.store.TouchAPIKey(ctx, scope, sendoka.NewID(sendoka.PrefixAPIKey, b.base), t1, t1)
	require.NoError(t, err)
	require.False(t, wrote, "an unknown key")

	// Several processes in the same window: one write.
	t2 := t1.Add(5 * time.Minute)
	var wrotes atomic.Int32
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			wrote, err := b.store.TouchAPIKey(ctx, scope, key.ID, t2, t2.Add(-time.Minute))
			if wrote {
				wrotes.Add(1)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int32(1), wrotes.Load())
	require.Equal(t, ptr(t2), lastUsed())
}

// keyFeed records what a KeyInvalidations feed reports about the hashes of interest. A feed
// may report other hashes too (bunstore's Postgres channel is shared by every schema of the
// database, and the suite runs in parallel); those are left out.
type keyFeed struct {
	mu      sync.Mutex
	mine    map[string]bool
	changed []string
	synced  int
}

func newKeyFeed(hashes ...string) *keyFeed {
	f := &keyFeed{mine: map[string]bool{}}
	for _, h := range hashes {
		f.mine[h] = true
	}
	return f
}

func (f *keyFeed) KeyChanged(hash string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mine[hash] {
		f.changed = append(f.changed, hash)
	}
}

func (f *keyFeed) KeysSynced(time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.synced++
}

func (f *keyFeed) KeysLost() {}

func (f *keyFeed) state() (changed []string, synced int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.changed), f.synced
}

// waitFor polls cond until it holds or feedWait passes.
func waitFor(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	deadline := time.After(feedWait)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatal(msg)
		case <-tick.C:
		}
	}
}

// testKeyInvalidations runs when the store has the optional feed of key changes: once it
// is live it reports every committed insert and revocation, in commit order, never a
// rolled-back one, and nothing to a watch whose context is done.
func testKeyInvalidations(t *testing.T, b *bundle) {
	kinv, ok := b.store.(sendoka.KeyInvalidations)
	if !ok {
		return // the feed is optional
	}
	ctx := b.ctx(t)
	const org = "org_feed"
	newKey := func(n int) *sendoka.APIKey {
		// Random plaintexts: parallel runs on one database must not share hashes.
		return &sendoka.APIKey{ID: sendoka.NewID(sendoka.PrefixAPIKey, b.at(n)), OrgID: org, Prefix: "sok_live_fd00",
			Hash: sendoka.HashKey(sendoka.NewKeyPlaintext(sendoka.ModeLive)), Mode: sendoka.ModeLive, CreatedAt: b.at(n)}
	}
	a, rolled, c, d := newKey(1), newKey(2), newKey(3), newKey(4)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	feed, other := newKeyFeed(a.Hash, rolled.Hash, c.Hash, d.Hash), newKeyFeed(a.Hash, rolled.Hash, c.Hash, d.Hash)
	if !kinv.WatchAPIKeys(wctx, feed) {
		return // this store has no feed (bunstore on SQLite)
	}
	require.True(t, kinv.WatchAPIKeys(ctx, other))
	waitFor(t, func() bool { _, synced := feed.state(); return synced > 0 }, "the feed never became live")
	waitFor(t, func() bool { _, synced := other.state(); return synced > 0 }, "the second watch never became live")

	reported := func(f *keyFeed, hashes ...string) func() bool {
		return func() bool {
			changed, _ := f.state()
			return slices.Equal(changed, hashes)
		}
	}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAPIKey(ctx, a) })
	waitFor(t, reported(feed, a.Hash), "an insert is reported")
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		return tx.RevokeAPIKey(ctx, sendoka.Scope{OrgID: org}, a.ID, b.at(5))
	})
	waitFor(t, reported(feed, a.Hash, a.Hash), "a revocation is reported")

	errRollback := errors.New("roll back")
	err := b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
		if err := tx.InsertAPIKey(ctx, rolled); err != nil {
			return err
		}
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAPIKey(ctx, c) })
	// Reports come in commit order, so once c's is in, a rolled-back insert's would be too.
	waitFor(t, reported(feed, a.Hash, a.Hash, c.Hash), "a rolled-back insert is never reported")

	stop()
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAPIKey(ctx, d) })
	waitFor(t, reported(other, a.Hash, a.Hash, c.Hash, d.Hash), "the other watch goes on")
	changed, _ := feed.state()
	require.Equal(t, []string{a.Hash, a.Hash, c.Hash}, changed, "a watch whose context is done hears nothing")
}
