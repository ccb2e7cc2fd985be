package bunstore_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendoka/sendoka/sendoka"
	"github.com/sendoka/sendoka/storage/bunstore"
	"github.com/sendoka/sendoka/storage/bunstore/bunstoretest"
)

// feedRecorder records a key feed's state and the hashes it reported.
type feedRecorder struct {
	mu      sync.Mutex
	live    bool
	changed []string
}

func (f *feedRecorder) KeyChanged(hash string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changed = append(f.changed, hash)
}

func (f *feedRecorder) KeysSynced(time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live = true
}

func (f *feedRecorder) KeysLost() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live = false
}

func (f *feedRecorder) isLive() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live
}

func (f *feedRecorder) heard(hash string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.changed, hash)
}

// waitFeed polls cond until it holds, for at most 20 s.
func waitFeed(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatal(msg)
		case <-tick.C:
		}
	}
}

// TestKeyWatchReconnects: the key listener reports KeysLost when its connection fails,
// refused (the server went away) or silent (a frozen server answers no ping), comes back by
// itself once the server answers, and then reports changes again.
func TestKeyWatchReconnects(t *testing.T) {
	t.Parallel()
	if !containsPostgres(bunstoretest.Dialects(t)) {
		t.Skip("set " + bunstoretest.EnvDatabaseURL + " to run on Postgres")
	}
	ctx := context.Background()
	dsn := bunstoretest.DSN(t, bunstore.DialectPostgres)
	proxy := bunstoretest.NewProxy(t, bunstoretest.PostgresTarget(t, dsn))
	db, err := bunstore.Open(ctx, bunstoretest.ProxyDSN(t, dsn, proxy), nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Migrate(ctx))
	// Writes that do not pass the proxy, as another node's would.
	direct, err := bunstore.Open(ctx, dsn, nil)
	require.NoError(t, err)
	defer direct.Close()

	feed := &feedRecorder{}
	require.True(t, db.WatchAPIKeys(ctx, feed))
	waitFeed(t, feed.isLive, "the feed never became live")
	for _, cut := range []struct {
		name         string
		cut, restore func()
	}{
		{"refused", proxy.Stop, func() { require.NoError(t, proxy.Start()) }},
		{"frozen", proxy.Freeze, proxy.Thaw},
	} {
		cut.cut()
		waitFeed(t, func() bool { return !feed.isLive() }, cut.name+": the loss was never reported")
		cut.restore()
		waitFeed(t, feed.isLive, cut.name+": the listener never came back")
		now := time.Now().UTC().Truncate(time.Microsecond)
		key := &sendoka.APIKey{ID: sendoka.NewID(sendoka.PrefixAPIKey, now), OrgID: "org_watch", Prefix: "sok_live_wtch",
			Hash: sendoka.HashKey(sendoka.NewKeyPlaintext(sendoka.ModeLive)), Mode: sendoka.ModeLive, CreatedAt: now}
		require.NoError(t, direct.InTx(ctx, func(ctx context.Context, tx sendoka.Tx) error { return tx.InsertAPIKey(ctx, key) }))
		waitFeed(t, func() bool { return feed.heard(key.Hash) }, cut.name+": a change after the reconnection was not reported")
	}
}

// TestKeyWatchSQLite: SQLite has no feed of key changes.
func TestKeyWatchSQLite(t *testing.T) {
	t.Parallel()
	db := bunstoretest.Open(t, bunstore.DialectSQLite)
	require.False(t, db.WatchAPIKeys(context.Background(), &feedRecorder{}))
}
