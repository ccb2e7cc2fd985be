package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// testTakeTokens: GCRA in the store. A new key starts with tolerance/interval tokens; takes
// never grant more than are left; tokens come back with time, and when returned.
func testTakeTokens(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	key := "key_gcra_" + sendoka.NewID("", b.base)
	interval, tolerance := time.Second, 10*time.Second // 10 tokens, one more a second
	now := b.base.Truncate(time.Second)
	take := func(n int64, at time.Time) int64 {
		t.Helper()
		got, _, err := b.store.TakeTokens(ctx, key, n, interval, tolerance, at)
		require.NoError(t, err)
		return got
	}
	require.EqualValues(t, 4, take(4, now), "a new key has the whole burst")
	require.EqualValues(t, 6, take(8, now), "then only what is left")
	require.EqualValues(t, 0, take(1, now), "then nothing")
	require.EqualValues(t, 0, take(1, now.Add(999*time.Millisecond)), "not before an interval has passed")
	require.EqualValues(t, 1, take(5, now.Add(time.Second)), "one token per interval comes back")
	require.EqualValues(t, 3, take(5, now.Add(4*time.Second)))
	require.NoError(t, b.store.ReturnTokens(ctx, key, 2, interval))
	require.EqualValues(t, 2, take(5, now.Add(4*time.Second)), "returned tokens can be taken again")
	require.EqualValues(t, 10, take(50, now.Add(time.Hour)), "an idle key refills to the whole burst, no more")

	// Concurrent takes never grant more than the burst.
	other := key + "_race"
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			n, _, err := b.store.TakeTokens(ctx, other, 3, interval, tolerance, now)
			require.NoError(t, err)
			granted.Add(n)
		})
	}
	wg.Wait()
	require.EqualValues(t, 10, granted.Load(), "exactly the burst, whatever the interleaving")
}

// testReserveCount: a counter never passes its limit, however many reserve at once, and a
// release makes room again.
func testReserveCount(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	for _, c := range []sendoka.Counter{
		{Kind: sendoka.CounterQuota, Subject: "org_quota_" + sendoka.NewID("", b.base), Channel: sendoka.ChannelEmail, Period: "2026-12"},
		{Kind: sendoka.CounterWarmup, Subject: "dom_warm_" + sendoka.NewID("", b.base), Period: "2026-12-04"},
	} {
		n, err := b.store.GetCount(ctx, c)
		require.NoError(t, err)
		require.Zero(t, n, "a counter starts at 0")
		var granted atomic.Int64
		var wg sync.WaitGroup
		for range 25 {
			wg.Go(func() {
				g, used, err := b.store.ReserveCount(ctx, c, 3, 50)
				require.NoError(t, err)
				require.LessOrEqual(t, used, int64(50))
				granted.Add(g)
			})
		}
		wg.Wait()
		require.EqualValues(t, 50, granted.Load(), "%s: exactly the limit is granted", c.Kind)
		n, err = b.store.GetCount(ctx, c)
		require.NoError(t, err)
		require.EqualValues(t, 50, n)
		g, _, err := b.store.ReserveCount(ctx, c, 1, 50)
		require.NoError(t, err)
		require.Zero(t, g, "full")
		require.NoError(t, b.store.ReleaseCount(ctx, c, 5))
		g, used, err := b.store.ReserveCount(ctx, c, 10, 50)
		require.NoError(t, err)
		require.EqualValues(t, 5, g, "released room is reserved again")
		require.EqualValues(t, 50, used)
		require.NoError(t, b.store.ReleaseCount(ctx, c, 500))
		n, err = b.store.GetCount(ctx, c)
		require.NoError(t, err)
		require.Zero(t, n, "never below 0")
	}
	// Other counters are untouched.
	n, err := b.store.GetCount(ctx, sendoka.Counter{Kind: sendoka.CounterQuota, Subject: "org_quota_other", Channel: sendoka.ChannelSMS, Period: "2026-12"})
	require.NoError(t, err)
	require.Zero(t, n)
}

// testOrgLimits: an org's plan and its own limits round-trip.
func testOrgLimits(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	org := &sendoka.Org{ID: sendoka.NewID(sendoka.PrefixOrg, b.base), Name: "limits", Plan: "free", CreatedAt: b.base}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertOrg(ctx, org) })
	got, err := b.store.GetOrg(ctx, org.ID)
	require.NoError(t, err)
	require.Equal(t, "free", got.Plan)
	require.Nil(t, got.Limits.BurstPerMinute)
	burst, emails := int64(120), int64(0)
	got.Plan, got.Limits.BurstPerMinute, got.Limits.MonthlyEmails = "pro", &burst, &emails
	got.Name = "ignored"
	require.NoError(t, b.store.UpdateOrg(ctx, got))
	again, err := b.store.GetOrg(ctx, org.ID)
	require.NoError(t, err)
	require.Equal(t, "pro", again.Plan)
	require.Equal(t, &burst, again.Limits.BurstPerMinute)
	require.Equal(t, &emails, again.Limits.MonthlyEmails)
	require.Nil(t, again.Limits.MonthlySMS)
	require.Equal(t, "limits", again.Name, "the name is not a limit")
	_, err = b.store.GetOrg(ctx, "org_nosuch")
	requireCode(t, sendoka.CodeNotFound, err)
	requireCode(t, sendoka.CodeNotFound, b.store.UpdateOrg(ctx, &sendoka.Org{ID: "org_nosuch", Plan: "pro"}))
}
