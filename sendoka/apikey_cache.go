package sendoka

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// AuthCacheConfig tunes the in-process cache of API key lookups that spares Authenticate a
// database read on most requests. Whatever the settings, a key revoked in any process that
// shares the store is refused everywhere within RevocationDelay, and expiry and revocation
// times are checked against the Clock on every call, cache hit or not.
type AuthCacheConfig struct {
	// MaxKeys bounds the keys held. Unknown hashes are held apart, bounded by the same
	// number, so a flood of made-up keys never pushes real ones out. Default:
	// DefaultAuthCacheKeys. Negative: no cache, every Authenticate reads the store.
	MaxKeys int
	// TTL is how long a key read from the store is used before it is read again while the
	// store reports key changes as they happen (KeyInvalidations: bunstore on Postgres,
	// while its listener is connected). Without such a feed (SQLite, or Postgres while the
	// listener is down) a key is read again once it is RevocationDelay old, whatever TTL
	// says. Default: DefaultAuthCacheTTL.
	TTL time.Duration
	// NegativeTTL is how long a hash the store does not know is remembered as unknown,
	// so a client retrying a wrong key does not reach the database on every request. A key
	// created in another process without a live feed may be refused for this long if its
	// plaintext was tried just before it existed. Default: DefaultAuthCacheNegativeTTL.
	NegativeTTL time.Duration
}

// Defaults and bounds of the API key cache.
const (
	DefaultAuthCacheKeys        = 10_000
	DefaultAuthCacheTTL         = time.Minute
	DefaultAuthCacheNegativeTTL = 500 * time.Millisecond

	// RevocationDelay bounds how long a revoked key goes on working in any process that
	// shares the store: the Client that revokes a key refuses it at once, every other
	// within this delay (at once, too, while the store's feed of key changes is live).
	RevocationDelay = time.Second

	// LastUsedInterval is how often, at most, a key's LastUsedAt is written.
	LastUsedInterval = time.Minute
)

// lastUsedTimeout bounds the background write of LastUsedAt; the request never waits for it.
const lastUsedTimeout = 2 * time.Second

// sweepEvery spaces out full scans of a full map: between them an insert into a full map
// drops an arbitrary entry instead.
const sweepEvery = time.Second

// keyCache caches API key lookups by hash and throttles LastUsedAt writes. Times are on the
// Client's Clock, untruncated, so the system clock's monotonic reading measures ages.
//
// A found key is used while it is younger than RevocationDelay, or, while the store's feed
// is live, younger than TTL if it was read under the current feed and the feed has
// confirmed every change until less than RevocationDelay ago. A change committed at R
// either reached KeyChanged (and dropped the entry) or lies after the feed's watermark, so
// the key is refused from R + RevocationDelay at the latest.
type keyCache struct {
	store     Store
	clock     Clock
	log       *slog.Logger
	max       int // 0: no cache
	ttl       time.Duration
	negTTL    time.Duration
	watchOnce sync.Once

	mu        sync.Mutex
	found     boundedMap[cachedKey] // by hash
	unknown   boundedMap[time.Time] // by hash: when its lookup began
	inflight  map[string]*keyLookup
	touched   boundedMap[time.Time] // by key id: the LastUsedAt this process last wrote
	live      bool                  // the store's feed is live
	epoch     uint64                // counts the feed's ups and downs
	watermark time.Time             // the live feed has reported every change before it

	writes sync.WaitGroup // LastUsedAt writes in flight
}

type cachedKey struct {
	key *APIKey
	at  time.Time // when its lookup began
	// epoch is the feed it was read under; 0 when no feed was live.
	epoch uint64
}

// keyLookup is a store read in flight that concurrent lookups of the same hash wait for.
type keyLookup struct {
	done chan struct{}
	key  *APIKey // nil: unknown
	err  error
	// stale is set (under keyCache.mu) when the key changed while the read was in flight:
	// the read may hold the row as it was before, so it is not kept.
	stale bool
}

func newKeyCache(store Store, clock Clock, log *slog.Logger, cfg AuthCacheConfig) *keyCache {
	c := &keyCache{
		store: store, clock: clock, log: log,
		max: cfg.MaxKeys, ttl: cfg.TTL, negTTL: cfg.NegativeTTL,
		found:    boundedMap[cachedKey]{m: map[string]cachedKey{}},
		unknown:  boundedMap[time.Time]{m: map[string]time.Time{}},
		inflight: map[string]*keyLookup{},
		touched:  boundedMap[time.Time]{m: map[string]time.Time{}},
	}
	switch {
	case c.max == 0:
		c.max = DefaultAuthCacheKeys
	case c.max < 0:
		c.max = 0
	}
	if c.ttl <= 0 {
		c.ttl = DefaultAuthCacheTTL
	}
	if c.negTTL <= 0 {
		c.negTTL = DefaultAuthCacheNegativeTTL
	}
	return c
}

// lookup returns the key with that hash, nil when the store does not know it.
func (c *keyCache) lookup(ctx context.Context, hash string) (*APIKey, error) {
	if c.max == 0 {
		return c.fetch(ctx, hash)
	}
	c.watchOnce.Do(c.watch)
	now := c.clock.Now()
	c.mu.Lock()
	if e, ok := c.found.m[hash]; ok && c.fresh(e, now) {
		c.mu.Unlock()
		return e.key, nil
	}
	if at, ok := c.unknown.m[hash]; ok && within(now, at, c.negTTL) {
		c.mu.Unlock()
		return nil, nil
	}
	if l, ok := c.inflight[hash]; ok {
		c.mu.Unlock()
		select {
		case <-l.done:
			if l.err == nil {
				return l.key, nil
			}
		case <-ctx.Done():
		}
		// The read we waited for failed (its caller's deadline, say): read for ourselves,
		// so that our own context decides our error.
		return c.fetch(ctx, hash)
	}
	l := &keyLookup{done: make(chan struct{})}
	c.inflight[hash] = l
	epoch := uint64(0)
	if c.live {
		epoch = c.epoch
	}
	c.mu.Unlock()

	l.key, l.err = c.fetch(ctx, hash)

	c.mu.Lock()
	delete(c.inflight, hash)
	if l.err == nil && !l.stale {
		if l.key != nil {
			c.found.put(now, c.max, hash, cachedKey{key: l.key, at: now, epoch: epoch}, func(e cachedKey) bool {
				return !within(now, e.at, max(c.ttl, RevocationDelay))
			})
		} else {
			c.unknown.put(now, c.max, hash, now, func(at time.Time) bool { return !within(now, at, c.negTTL) })
		}
	}
	c.mu.Unlock()
	close(l.done)
	return l.key, l.err
}

// fetch reads the store; an unknown hash is (nil, nil).
func (c *keyCache) fetch(ctx context.Context, hash string) (*APIKey, error) {
	key, err := c.store.GetAPIKeyByHash(ctx, hash)
	if ErrorCode(err) == CodeNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, AsError(err)
	}
	return key, nil
}

// fresh reports whether a found key may be used at now. c.mu is held.
func (c *keyCache) fresh(e cachedKey, now time.Time) bool {
	if within(now, e.at, RevocationDelay) {
		return true
	}
	return e.epoch != 0 && c.live && e.epoch == c.epoch &&
		within(now, c.watermark, RevocationDelay) && within(now, e.at, c.ttl)
}

// within reports whether now is at or after t and less than d after it. A clock that went
// back makes every entry stale rather than young.
func within(now, t time.Time, d time.Duration) bool {
	age := now.Sub(t)
	return age >= 0 && age < d
}

// boundedMap is a map of at most limit entries.
type boundedMap[V any] struct {
	m       map[string]V
	sweptAt time.Time
}

// put stores v under k. When the map is full it first drops, at most once per sweepEvery,
// every entry that stale says can no longer be used; then, if that was not enough, arbitrary
// ones. A map full of live entries thus costs one deletion per insert, not a scan.
func (b *boundedMap[V]) put(now time.Time, limit int, k string, v V, stale func(V) bool) {
	if _, ok := b.m[k]; !ok && len(b.m) >= limit {
		if !within(now, b.sweptAt, sweepEvery) {
			b.sweptAt = now
			for key, val := range b.m {
				if stale(val) {
					delete(b.m, key)
				}
			}
		}
		for key := range b.m {
			if len(b.m) < limit {
				break
			}
			delete(b.m, key)
		}
	}
	b.m[k] = v
}

// watch subscribes to the store's feed of key changes, if it has one.
func (c *keyCache) watch() {
	if w, ok := c.store.(KeyInvalidations); ok {
		// The Client has no end of its own: the watch lasts as long as the store.
		w.WatchAPIKeys(context.Background(), c)
	}
}

// KeyChanged drops the key with that hash (KeyWatcher).
func (c *keyCache) KeyChanged(hash string) {
	c.forgetHash(hash)
}

// KeysSynced marks the feed live up to lag ago (KeyWatcher).
func (c *keyCache) KeysSynced(lag time.Duration) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		// A new feed: keys read before it may have missed changes, so they keep only the
		// short lifetime.
		c.live = true
		c.epoch++
	}
	c.watermark = now.Add(-lag)
}

// KeysLost marks the feed down (KeyWatcher).
func (c *keyCache) KeysLost() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live {
		c.live = false
		c.epoch++
	}
}

// forgetID drops the key with that id, after this process changed it. A read in flight may
// be of that key: none is kept.
func (c *keyCache) forgetID(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.inflight {
		l.stale = true
	}
	for h, e := range c.found.m {
		if e.key.ID == id {
			delete(c.found.m, h)
		}
	}
}

// forgetHash drops what is known of a hash, after a key with it was stored or changed.
func (c *keyCache) forgetHash(hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.inflight[hash]; ok {
		l.stale = true
	}
	delete(c.found.m, hash)
	delete(c.unknown.m, hash)
}

// touch records a use of key at now (the Client's truncated time): when neither the store's
// LastUsedAt nor this process's last write is within LastUsedInterval, it writes LastUsedAt in
// the background with a short timeout, conditional on the stored value, so that several
// processes write it about once a minute together. A failed write is logged, never
// returned: the request it belongs to has been authenticated already.
func (c *keyCache) touch(key *APIKey, now time.Time) {
	c.mu.Lock()
	last := key.LastUsedAt
	if t, ok := c.touched.m[key.ID]; ok && (last == nil || t.After(*last)) {
		last = &t
	}
	if last != nil && !last.Before(now.Add(-LastUsedInterval)) {
		c.mu.Unlock()
		return
	}
	c.touched.put(now, max(c.max, DefaultAuthCacheKeys), key.ID, now, func(t time.Time) bool {
		return t.Before(now.Add(-LastUsedInterval))
	})
	c.writes.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.writes.Done()
		ctx, cancel := context.WithTimeout(context.Background(), lastUsedTimeout)
		defer cancel()
		scope := Scope{OrgID: key.OrgID, TenantID: key.TenantID}
		if _, err := c.store.TouchAPIKey(ctx, scope, key.ID, now, now.Add(-LastUsedInterval)); err != nil {
			c.log.Warn("api key: last_used_at not written", "key_id", key.ID, "error", err)
		}
	}()
}
