package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
)

// idemRecord is a locked record of key k, taken at at by token.
func idemRecord(k sendoka.IdempotencyKey, token string, at time.Time) *sendoka.IdempotencyRecord {
	return &sendoka.IdempotencyRecord{IdempotencyKey: k, RequestHash: "hash-" + token, Token: token,
		State: sendoka.IdempotencyLocked, LockedAt: at, CreatedAt: at}
}

// testIdempotencyRecords: a key is created once per scope and route; reads return what
// was written, to the microsecond; only the holder's token completes or releases it; a
// completed record is never released.
func testIdempotencyRecords(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	org := "org_idem_" + sendoka.NewID("", b.base)
	k := sendoka.IdempotencyKey{OrgID: org, Mode: sendoka.ModeLive, Route: "POST /api/v1/emails", Key: "welcome:user_1"}

	_, err := b.store.GetIdempotencyRecord(ctx, k)
	require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))

	ok, err := b.store.CreateIdempotencyRecord(ctx, idemRecord(k, "t1", b.at(1)))
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = b.store.CreateIdempotencyRecord(ctx, idemRecord(k, "t2", b.at(2)))
	require.NoError(t, err)
	require.False(t, ok, "a key is created once")

	got, err := b.store.GetIdempotencyRecord(ctx, k)
	require.NoError(t, err)
	require.Equal(t, idemRecord(k, "t1", b.at(1)), got, "the first one stays, to the microsecond")

	// Each part of the key is its own namespace.
	for _, other := range []sendoka.IdempotencyKey{
		{OrgID: org + "_b", Mode: k.Mode, Route: k.Route, Key: k.Key},
		{OrgID: org, TenantID: "ten_a", Mode: k.Mode, Route: k.Route, Key: k.Key},
		{OrgID: org, Mode: sendoka.ModeTest, Route: k.Route, Key: k.Key},
		{OrgID: org, Mode: k.Mode, Route: "POST /api/v1/sms", Key: k.Key},
		{OrgID: org, Mode: k.Mode, Route: k.Route, Key: "Welcome:user_1"},
	} {
		ok, err := b.store.CreateIdempotencyRecord(ctx, idemRecord(other, "o", b.at(3)))
		require.NoError(t, err)
		require.True(t, ok, "%+v is another key", other)
	}

	resp := &sendoka.StoredResponse{Status: 200, Header: map[string]string{"Content-Type": "application/json"},
		Body: []byte("{\"id\":\"msg_1\"}\n\x00\xff")}
	ok, err = b.store.CompleteIdempotencyRecord(ctx, k, "t2", resp)
	require.NoError(t, err)
	require.False(t, ok, "only the holder completes")
	ok, err = b.store.ReleaseIdempotencyRecord(ctx, k, "t2")
	require.NoError(t, err)
	require.False(t, ok, "only the holder releases")
	ok, err = b.store.CompleteIdempotencyRecord(ctx, k, "t1", resp)
	require.NoError(t, err)
	require.True(t, ok)
	got, err = b.store.GetIdempotencyRecord(ctx, k)
	require.NoError(t, err)
	require.Equal(t, sendoka.IdempotencyCompleted, got.State)
	require.Equal(t, resp, got.Response, "the body comes back byte for byte")
	ok, err = b.store.ReleaseIdempotencyRecord(ctx, k, "t1")
	require.NoError(t, err)
	require.False(t, ok, "a completed record is kept")

	// A response without headers or body.
	k2 := k
	k2.Key = "empty"
	ok, err = b.store.CreateIdempotencyRecord(ctx, idemRecord(k2, "e", b.at(4)))
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = b.store.CompleteIdempotencyRecord(ctx, k2, "e", &sendoka.StoredResponse{Status: 204})
	require.NoError(t, err)
	require.True(t, ok)
	got, err = b.store.GetIdempotencyRecord(ctx, k2)
	require.NoError(t, err)
	require.Equal(t, &sendoka.StoredResponse{Status: 204, Body: []byte{}}, got.Response)

	// Released, a locked key can be created again.
	k3 := k
	k3.Key = "released"
	ok, err = b.store.CreateIdempotencyRecord(ctx, idemRecord(k3, "r1", b.at(5)))
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = b.store.ReleaseIdempotencyRecord(ctx, k3, "r1")
	require.NoError(t, err)
	require.True(t, ok)
	_, err = b.store.GetIdempotencyRecord(ctx, k3)
	require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err))
	ok, err = b.store.CreateIdempotencyRecord(ctx, idemRecord(k3, "r2", b.at(6)))
	require.NoError(t, err)
	require.True(t, ok)
}

// testIdempotencyTakeOver: a lapsed lock or an expired record is taken over by exactly one
// of many concurrent takers, and never while the holder's lock is live or after it
// completed (unless it expired).
func testIdempotencyTakeOver(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	k := sendoka.IdempotencyKey{OrgID: "org_take_" + sendoka.NewID("", b.base), Mode: sendoka.ModeTest, Route: "POST /api/v1/sms", Key: "k"}
	t0 := b.base
	ok, err := b.store.CreateIdempotencyRecord(ctx, idemRecord(k, "holder", t0))
	require.NoError(t, err)
	require.True(t, ok)
	longAgo := t0.Add(-48 * time.Hour)

	take := func(token, from string, lockedBefore, createdBefore time.Time) bool {
		t.Helper()
		ok, err := b.store.TakeOverIdempotencyRecord(ctx, idemRecord(k, token, lockedBefore.Add(time.Minute)), from, lockedBefore, createdBefore)
		require.NoError(t, err)
		return ok
	}
	require.False(t, take("x", "holder", t0.Add(-time.Microsecond), longAgo), "the lock is live")
	require.False(t, take("x", "someone", t0, longAgo), "the token must match")
	require.True(t, take("x", "holder", t0, longAgo), "a lock taken at lockedBefore has lapsed")
	got, err := b.store.GetIdempotencyRecord(ctx, k)
	require.NoError(t, err)
	require.Equal(t, "x", got.Token)
	require.Equal(t, "hash-x", got.RequestHash)
	require.Equal(t, t0.Add(time.Minute), got.LockedAt)
	ok, err = b.store.CompleteIdempotencyRecord(ctx, k, "holder", &sendoka.StoredResponse{Status: 200})
	require.NoError(t, err)
	require.False(t, ok, "the old holder can no longer complete")

	// Concurrent takers of a lapsed lock: one wins.
	lapsed := t0.Add(2 * time.Minute)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			ok, err := b.store.TakeOverIdempotencyRecord(ctx, idemRecord(k, "c"+string(rune('a'+i)), lapsed), "x", lapsed, longAgo)
			require.NoError(t, err)
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, wins.Load())
	got, err = b.store.GetIdempotencyRecord(ctx, k)
	require.NoError(t, err)

	// Completed: no lapsed-lock take-over, but an expired record is replaced, response and all.
	ok, err = b.store.CompleteIdempotencyRecord(ctx, k, got.Token, &sendoka.StoredResponse{Status: 200, Body: []byte("x")})
	require.NoError(t, err)
	require.True(t, ok)
	later := lapsed.Add(time.Hour)
	require.False(t, take("y", got.Token, later, longAgo), "a completed record has no lock to lapse")
	require.True(t, take("y", got.Token, later, lapsed), "an expired one is replaced")
	got, err = b.store.GetIdempotencyRecord(ctx, k)
	require.NoError(t, err)
	require.Equal(t, sendoka.IdempotencyLocked, got.State)
	require.Nil(t, got.Response)
	require.Equal(t, later.Add(time.Minute), got.CreatedAt)
}

// testIdempotencyInTx: a record completed in a transaction commits with it, or not at all.
func testIdempotencyInTx(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	k := sendoka.IdempotencyKey{OrgID: "org_tx_" + sendoka.NewID("", b.base), Mode: sendoka.ModeLive, Route: "POST /api/v1/emails", Key: "k"}
	ok, err := b.store.CreateIdempotencyRecord(ctx, idemRecord(k, "t", b.base))
	require.NoError(t, err)
	require.True(t, ok)
	resp := &sendoka.StoredResponse{Status: 200, Body: []byte(`{}`)}
	boom := errors.New("boom")
	err = b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
		ok, err := tx.CompleteIdempotencyRecord(ctx, k, "t", resp)
		require.NoError(t, err)
		require.True(t, ok)
		return boom
	})
	require.ErrorIs(t, err, boom)
	got, err := b.store.GetIdempotencyRecord(ctx, k)
	require.NoError(t, err)
	require.Equal(t, sendoka.IdempotencyLocked, got.State, "rolled back")
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		ok, err := tx.CompleteIdempotencyRecord(ctx, k, "wrong", resp)
		require.NoError(t, err)
		require.False(t, ok)
		ok, err = tx.CompleteIdempotencyRecord(ctx, k, "t", resp)
		require.NoError(t, err)
		require.True(t, ok)
		return nil
	})
	got, err = b.store.GetIdempotencyRecord(ctx, k)
	require.NoError(t, err)
	require.Equal(t, resp, got.Response)
}

// testIdempotencyDelete: records created at or before the cut-off go, whatever their state.
func testIdempotencyDelete(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	org := "org_del_" + sendoka.NewID("", b.base)
	key := func(s string) sendoka.IdempotencyKey {
		return sendoka.IdempotencyKey{OrgID: org, Mode: sendoka.ModeLive, Route: "POST /api/v1/emails", Key: s}
	}
	for i, s := range []string{"old-locked", "old-done", "cutoff", "new"} {
		ok, err := b.store.CreateIdempotencyRecord(ctx, idemRecord(key(s), s, b.at(i)))
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, err := b.store.CompleteIdempotencyRecord(ctx, key("old-done"), "old-done", &sendoka.StoredResponse{Status: 200})
	require.NoError(t, err)
	require.True(t, ok)
	n, err := b.store.DeleteIdempotencyRecords(ctx, b.at(2))
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	for _, s := range []string{"old-locked", "old-done", "cutoff"} {
		_, err := b.store.GetIdempotencyRecord(ctx, key(s))
		require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err), s)
	}
	_, err = b.store.GetIdempotencyRecord(ctx, key("new"))
	require.NoError(t, err)
}

// testIdempotencyInsertCompleted: a completed record inserted in a transaction exists only
// if it commits, and a second insert of the same key reports false and changes nothing.
func testIdempotencyInsertCompleted(t *testing.T, b *bundle) {
	ctx := b.ctx(t)
	k := sendoka.IdempotencyKey{OrgID: "org_ins_" + sendoka.NewID("", b.base), Mode: sendoka.ModeLive, Route: "POST /api/v1/emails", Key: "k"}
	rec := func(token, body string) *sendoka.IdempotencyRecord {
		return &sendoka.IdempotencyRecord{IdempotencyKey: k, RequestHash: "h", Token: token, State: sendoka.IdempotencyCompleted,
			LockedAt: b.base, CreatedAt: b.base, Response: &sendoka.StoredResponse{Status: 200,
				Header: map[string]string{"Content-Type": "application/json"}, Body: []byte(body)}}
	}
	boom := errors.New("boom")
	err := b.store.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
		ok, err := tx.InsertCompletedIdempotencyRecords(ctx, rec("a", `{"a":1}`))
		require.NoError(t, err)
		require.True(t, ok)
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = b.store.GetIdempotencyRecord(ctx, k)
	require.Equal(t, sendoka.CodeNotFound, sendoka.ErrorCode(err), "rolled back with its transaction")

	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		ok, err := tx.InsertCompletedIdempotencyRecords(ctx, rec("a", `{"a":1}`))
		require.NoError(t, err)
		require.True(t, ok)
		return nil
	})
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		ok, err := tx.InsertCompletedIdempotencyRecords(ctx, rec("b", `{"b":2}`))
		require.NoError(t, err)
		require.False(t, ok, "the key exists")
		return nil
	})
	got, err := b.store.GetIdempotencyRecord(ctx, k)
	require.NoError(t, err)
	require.Equal(t, sendoka.IdempotencyCompleted, got.State)
	require.Equal(t, "a", got.Token)
	require.Equal(t, rec("a", `{"a":1}`).Response, got.Response)

	// Several at once: all in, or the count says one was skipped.
	other := func(key string) *sendoka.IdempotencyRecord {
		r := rec("c", `{"c":3}`)
		r.Key = key
		return r
	}
	b.inTx(t, func(ctx context.Context, tx sendoka.Tx) error {
		ok, err := tx.InsertCompletedIdempotencyRecords(ctx, other("k2"), other("k3"))
		require.NoError(t, err)
		require.True(t, ok, "two new keys")
		ok, err = tx.InsertCompletedIdempotencyRecords(ctx, other("k4"), other("k"))
		require.NoError(t, err)
		require.False(t, ok, "k exists")
		return nil
	})
	for _, key := range []string{"k2", "k3", "k4"} {
		kk := k
		kk.Key = key
		_, err := b.store.GetIdempotencyRecord(ctx, kk)
		require.NoError(t, err, key)
	}
}
