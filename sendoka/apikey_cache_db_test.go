package sendoka_test

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/queue/riverjobs"
	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// authClock is a clock that moves only when the test moves it.
type authClock struct {
	mu sync.Mutex
	t  time.Time
}

func newAuthClock() *authClock {
	return &authClock{t: time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)}
}

func (c *authClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *authClock) add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// authStore is the real store, counting the key reads and writes that reach it. It
// embeds *bunstore.DB, so the feed of key changes (on Postgres) passes through.
type authStore struct {
	*bunstore.DB
	lookups atomic.Int64
	touches atomic.Int64
}

func (s *authStore) GetAPIKeyByHash(ctx context.Context, hash string) (*sendoka.APIKey, error) {
	s.lookups.Add(1)
	return s.DB.GetAPIKeyByHash(ctx, hash)
}

func (s *authStore) TouchAPIKey(ctx context.Context, scope sendoka.Scope, id string, at, ifBefore time.Time) (bool, error) {
	s.touches.Add(1)
	return s.DB.TouchAPIKey(ctx, scope, id, at, ifBefore)
}

// authBundle is a Client on a counting store with a manual clock, and an org in it.
type authBundle struct {
	store  *authStore
	clock  *authClock
	client *sendoka.Client
	admin  *sendoka.Principal
}

func newAuthBundle(t *testing.T, db *bunstore.DB) *authBundle {
	t.Helper()
	b := &authBundle{store: &authStore{DB: db}, clock: newAuthClock()}
	b.client = b.node(t)
	res, err := b.client.Bootstrap(context.Background(), sendoka.BootstrapOptions{})
	require.NoError(t, err)
	b.admin = sendoka.SystemPrincipal(res.Org.ID, sendoka.ModeLive)
	return b
}

// node returns another Client on the same store and clock: a second process, with a cache
// of its own.
func (b *authBundle) node(t *testing.T) *sendoka.Client {
	t.Helper()
	q, err := riverjobs.New(b.store.SQLDB(), string(b.store.Dialect()), riverjobs.Config{InsertOnly: true})
	require.NoError(t, err)
	c, err := sendoka.New(sendoka.Config{Store: b.store, Queue: q, Clock: b.clock})
	require.NoError(t, err)
	return c
}

func (b *authBundle) key(t *testing.T, p sendoka.CreateKeyParams) (*sendoka.APIKey, string) {
	t.Helper()
	if p.Mode == "" {
		p.Mode = sendoka.ModeLive
	}
	k, plain, err := b.client.CreateAPIKey(context.Background(), b.admin, p)
	require.NoError(t, err)
	return k, plain
}

func authOK(t *testing.T, c *sendoka.Client, plain string) {
	t.Helper()
	_, err := c.Authenticate(context.Background(), plain, netip.Addr{})
	require.NoError(t, err)
}

func authRefused(t *testing.T, c *sendoka.Client, plain string) {
	t.Helper()
	_, err := c.Authenticate(context.Background(), plain, netip.Addr{})
	requireCode(t, sendoka.CodeUnauthorized, err)
}

// TestAPIKeyRevokedOnEveryNode: two processes on one database have both cached a key; one
// revokes it. It refuses the key at once, and the other within RevocationDelay (1 s), as
// documented: on Postgres through the feed of key changes (in milliseconds), on SQLite
// through the short TTL.
func TestAPIKeyRevokedOnEveryNode(t *testing.T) {
	t.Parallel()
	for _, d := range bunstoretest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := bunstoretest.DSN(t, d)
			nodes := make([]*sendoka.Client, 2)
			for i := range nodes {
				// Each node has its own pool (and, on Postgres, its own listener).
				db, err := bunstore.Open(ctx, dsn, &bunstore.Options{MaxOpenConns: bunstoretest.MaxOpenConns})
				require.NoError(t, err)
				t.Cleanup(func() { _ = db.Close() })
				if i == 0 {
					require.NoError(t, db.Migrate(ctx))
				}
				q, err := riverjobs.New(db.SQLDB(), string(d), riverjobs.Config{InsertOnly: true})
				require.NoError(t, err)
				nodes[i], err = sendoka.New(sendoka.Config{Store: db, Queue: q})
				require.NoError(t, err)
			}
			res, err := nodes[0].Bootstrap(ctx, sendoka.BootstrapOptions{})
			require.NoError(t, err)
			admin := sendoka.SystemPrincipal(res.Org.ID, sendoka.ModeLive)
			if d == bunstore.DialectPostgres {
				// The first Authenticate starts a node's feed; the key is read once it is live,
				// so that the revocation reaches the other node through it, not the TTL.
				for _, n := range nodes {
					authRefused(t, n, sendoka.NewKeyPlaintext(sendoka.ModeLive))
					pollUntil(t, n.KeyFeedSynced, "the feed never became live")
				}
			}
			key, plain, err := nodes[0].CreateAPIKey(ctx, admin, sendoka.CreateKeyParams{Mode: sendoka.ModeLive})
			require.NoError(t, err)
			for _, n := range nodes {
				authOK(t, n, plain)
				authOK(t, n, plain) // from the cache
			}

			// A change of scopes reaches the other node the same way.
			readOnly := []sendoka.Permission{sendoka.PermissionEmailsRead}
			_, err = nodes[0].UpdateAPIKey(ctx, admin, key.ID, sendoka.UpdateKeyParams{Permissions: &readOnly})
			require.NoError(t, err)
			changed := time.Now()
			p, err := nodes[0].Authenticate(ctx, plain, netip.Addr{})
			require.NoError(t, err)
			require.Equal(t, readOnly, p.Permissions, "the changing node sees it at once")
			var seenAfter time.Duration
			pollUntil(t, func() bool {
				p, err := nodes[1].Authenticate(ctx, plain, netip.Addr{})
				seenAfter = time.Since(changed)
				return err == nil && !p.Can(sendoka.PermissionEmailsSend)
			}, "the other node never saw the new scopes")
			t.Logf("new scopes seen %v after the change", seenAfter)
			require.LessOrEqual(t, seenAfter, sendoka.RevocationDelay+300*time.Millisecond)

			require.NoError(t, nodes[0].RevokeAPIKey(ctx, admin, key.ID))
			revoked := time.Now()
			authRefused(t, nodes[0], plain)
			var refusedAfter time.Duration
			pollUntil(t, func() bool {
				_, err := nodes[1].Authenticate(ctx, plain, netip.Addr{})
				refusedAfter = time.Since(revoked)
				return sendoka.ErrorCode(err) == sendoka.CodeUnauthorized
			}, "the other node never refused the revoked key")
			t.Logf("refused %v after the revocation", refusedAfter)
			// The guarantee is RevocationDelay; the margin covers the poll's own reads.
			require.LessOrEqual(t, refusedAfter, sendoka.RevocationDelay+300*time.Millisecond)
			authRefused(t, nodes[1], plain)
		})
	}
}

// TestAPIKeyCacheFeed: while the store's feed of key changes is live (Postgres), a cached key
// is used for the TTL without a read, and a revocation in another process reaches the cache
// through the feed. Without a feed (SQLite) a key is read again once it is a second old.
func TestAPIKeyCacheFeed(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newAuthBundle(t, db)
		ctx := context.Background()
		key, plain := b.key(t, sendoka.CreateKeyParams{})
		authOK(t, b.client, plain)
		require.Equal(t, int64(1), b.store.lookups.Load())

		if db.Dialect() == bunstore.DialectSQLite {
			b.clock.add(sendoka.RevocationDelay - time.Millisecond)
			authOK(t, b.client, plain)
			require.Equal(t, int64(1), b.store.lookups.Load(), "younger than a second: from the cache")
			b.clock.add(time.Millisecond)
			authOK(t, b.client, plain)
			require.Equal(t, int64(2), b.store.lookups.Load(), "a second old: read again")
			require.False(t, b.client.KeyFeedSynced(), "SQLite has no feed")
			return
		}

		pollUntil(t, b.client.KeyFeedSynced, "the feed never became live")
		// The key was read before the feed was live: it lives a second, and is read again
		// under the feed.
		b.clock.add(sendoka.RevocationDelay)
		authOK(t, b.client, plain)
		require.Equal(t, int64(2), b.store.lookups.Load())
		// Half the TTL later, once the feed has confirmed it is live at the new time, the key
		// still comes from the cache.
		b.clock.add(sendoka.DefaultAuthCacheTTL / 2)
		pollUntil(t, b.client.KeyFeedSynced, "the feed never caught up with the clock")
		authOK(t, b.client, plain)
		require.Equal(t, int64(2), b.store.lookups.Load(), "from the cache, on the feed's word")

		// The key is revoked behind the Client's back (as another process would). The clock
		// stands still, so no TTL runs out: only the feed can tell the Client.
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			return tx.RevokeAPIKey(ctx, b.admin.Scope(), key.ID, b.clock.Now().UTC().Truncate(time.Microsecond))
		}))
		pollUntil(t, func() bool {
			_, err := b.client.Authenticate(ctx, plain, netip.Addr{})
			return sendoka.ErrorCode(err) == sendoka.CodeUnauthorized
		}, "the revocation never reached the cache")
	})
}

// TestAPIKeyCacheChecksTimes: a cached key is checked against the clock on every call: it is
// refused from its ExpiresAt, or a RevokedAt set ahead, without the store being read again.
func TestAPIKeyCacheChecksTimes(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newAuthBundle(t, db)
		ctx := context.Background()
		expires := b.clock.Now().Add(500 * time.Millisecond)
		_, expiring := b.key(t, sendoka.CreateKeyParams{ExpiresAt: &expires})
		// A key whose revocation takes effect later (as a rotation would set it).
		later := sendoka.NewKeyPlaintext(sendoka.ModeLive)
		revokeAt := b.clock.Now().Add(300 * time.Millisecond).Truncate(time.Microsecond)
		require.NoError(t, db.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error {
			return tx.InsertAPIKey(ctx, &sendoka.APIKey{ID: sendoka.NewID(sendoka.PrefixAPIKey, b.clock.Now()),
				OrgID: b.admin.OrgID, Prefix: later[:13], Hash: sendoka.HashKey(later), Mode: sendoka.ModeLive,
				Permissions: []sendoka.Permission{sendoka.PermissionFullAccess}, CreatedAt: b.clock.Now().UTC().Truncate(time.Microsecond),
				RevokedAt: &revokeAt})
		}))

		authOK(t, b.client, expiring)
		authOK(t, b.client, later)
		require.Equal(t, int64(2), b.store.lookups.Load())

		b.clock.add(300 * time.Millisecond)
		authOK(t, b.client, expiring)
		authRefused(t, b.client, later)
		b.clock.add(200 * time.Millisecond)
		authRefused(t, b.client, expiring)
		authRefused(t, b.client, later)
		require.Equal(t, int64(2), b.store.lookups.Load(), "every answer came from the cache")
	})
}

// TestAPIKeyCacheUnknown: an unknown key is remembered as unknown for NegativeTTL, so
// repeated (and concurrent) tries reach the store once; a key this Client creates is known
// at once.
func TestAPIKeyCacheUnknown(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newAuthBundle(t, db)
		unknown := sendoka.NewKeyPlaintext(sendoka.ModeLive)
		for range 100 {
			authRefused(t, b.client, unknown)
		}
		require.Equal(t, int64(1), b.store.lookups.Load(), "one read for a hundred tries")

		flood := sendoka.NewKeyPlaintext(sendoka.ModeTest)
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for range 50 {
			wg.Go(func() {
				_, err := b.client.Authenticate(context.Background(), flood, netip.Addr{})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			requireCode(t, sendoka.CodeUnauthorized, err)
		}
		require.Equal(t, int64(2), b.store.lookups.Load(), "fifty concurrent tries share one read")

		b.clock.add(sendoka.DefaultAuthCacheNegativeTTL)
		authRefused(t, b.client, unknown)
		require.Equal(t, int64(3), b.store.lookups.Load(), "read again after NegativeTTL")

		// Created here: known at once, negative entry or not.
		_, _, err := b.client.CreateAPIKey(context.Background(), b.admin, sendoka.CreateKeyParams{Mode: sendoka.ModeLive, Plaintext: unknown})
		require.NoError(t, err)
		authOK(t, b.client, unknown)

		// Created by another process: known once its negative entry lapses at the latest.
		other := b.node(t)
		authRefused(t, other, flood)
		_, _, err = b.client.CreateAPIKey(context.Background(), b.admin, sendoka.CreateKeyParams{Mode: sendoka.ModeTest, Plaintext: flood})
		require.NoError(t, err)
		b.clock.add(sendoka.DefaultAuthCacheNegativeTTL)
		authOK(t, other, flood)
	})
}

// TestAPIKeyLastUsed: a key's LastUsedAt is written at its first use and then at most once a
// minute, by any number of processes, off the request's path.
func TestAPIKeyLastUsed(t *testing.T) {
	t.Parallel()
	bunstoretest.EachDB(t, func(t *testing.T, db *bunstore.DB) {
		b := newAuthBundle(t, db)
		ctx := context.Background()
		key, plain := b.key(t, sendoka.CreateKeyParams{})
		lastUsed := func() *time.Time {
			keys, err := b.client.ListAPIKeys(ctx, b.admin)
			require.NoError(t, err)
			for _, k := range keys {
				if k.ID == key.ID {
					return k.LastUsedAt
				}
			}
			t.Fatalf("key %s not listed", key.ID)
			return nil
		}
		use := func(c *sendoka.Client) {
			t.Helper()
			authOK(t, c, plain)
			c.WaitKeyWrites()
		}
		at := func() *time.Time { t := b.clock.Now().UTC().Truncate(time.Microsecond); return &t }
		require.Nil(t, lastUsed(), "never used")

		use(b.client)
		t0 := at()
		require.Equal(t, t0, lastUsed(), "the first use writes")
		require.Equal(t, int64(1), b.store.touches.Load())

		b.clock.add(500 * time.Millisecond)
		use(b.client) // a cache hit: the cached key still says never used
		b.clock.add(9500 * time.Millisecond)
		use(b.client) // read again: the store says a moment ago
		require.Equal(t, int64(1), b.store.touches.Load(), "10 s later: no write")
		require.Equal(t, t0, lastUsed())

		// Another process, with nothing in its cache, sees the stored time and writes nothing.
		other := b.node(t)
		b.clock.add(10 * time.Second)
		use(other)
		require.Equal(t, int64(1), b.store.touches.Load(), "20 s later, on another node: no write")

		b.clock.add(41 * time.Second)
		use(b.client)
		t1 := at()
		require.Equal(t, int64(2), b.store.touches.Load())
		require.Equal(t, t1, lastUsed(), "61 s after the first use: written")
		use(other)
		use(b.client)
		require.Equal(t, t1, lastUsed())
		require.LessOrEqual(t, b.store.touches.Load(), int64(3), "the other node may try once; the store's condition keeps the time")

		// A refused request is not a use.
		b.clock.add(2 * time.Minute)
		require.NoError(t, b.client.RevokeAPIKey(ctx, b.admin, key.ID))
		authRefused(t, b.client, plain)
		b.client.WaitKeyWrites()
		require.Equal(t, t1, lastUsed())
	})
}

// TestAPIKeyCacheFeedSilent: when the feed's connection stops answering without failing (a
// frozen server or network), the Client stops trusting it within RevocationDelay, so cached
// keys fall back to their one-second life before the listener has even noticed.
func TestAPIKeyCacheFeedSilent(t *testing.T) {
	t.Parallel()
	if !slices.Contains(bunstoretest.Dialects(t), bunstore.DialectPostgres) {
		t.Skip("set " + bunstoretest.EnvDatabaseURL + " to run on Postgres")
	}
	ctx := context.Background()
	dsn := bunstoretest.DSN(t, bunstore.DialectPostgres)
	proxy := bunstoretest.NewProxy(t, bunstoretest.PostgresTarget(t, dsn))
	db, err := bunstore.Open(ctx, bunstoretest.ProxyDSN(t, dsn, proxy), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, db.Migrate(ctx))
	q, err := riverjobs.New(db.SQLDB(), string(db.Dialect()), riverjobs.Config{InsertOnly: true})
	require.NoError(t, err)
	c, err := sendoka.New(sendoka.Config{Store: db, Queue: q})
	require.NoError(t, err)

	authRefused(t, c, sendoka.NewKeyPlaintext(sendoka.ModeLive)) // starts the feed
	pollUntil(t, c.KeyFeedSynced, "the feed never became live")
	proxy.Freeze()
	frozen := time.Now()
	pollUntil(t, func() bool { return !c.KeyFeedSynced() }, "the Client kept trusting a silent feed")
	require.LessOrEqual(t, time.Since(frozen), sendoka.RevocationDelay+100*time.Millisecond)
	proxy.Thaw()
	pollUntil(t, c.KeyFeedSynced, "the feed never came back")
}
