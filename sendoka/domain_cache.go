package sendoka

import (
	"context"
	"sync"
	"time"
)

// maxCachedNamespaces bounds the namespaces (an org, or one tenant of it) whose domains are
// cached at once.
const maxCachedNamespaces = 10_000

// domainCache holds each namespace's domains, by name, for at most DomainConfig.CacheTTL
// (1 s), so the send path finds a sender's domain without a database round trip, and a
// domain verified, added or deleted in any process takes effect everywhere within a second.
// The process that makes the change forgets the namespace at once. Times are on the
// Client's Clock, untruncated.
type domainCache struct {
	store Store
	clock Clock
	ttl   time.Duration // <= 0: no cache

	mu       sync.Mutex
	sets     boundedMap[*domainSet] // by namespaceKey
	inflight map[string]*domainLoad
}

// domainSet is one namespace's domains as read at a time.
type domainSet struct {
	at     time.Time // when its read began
	byName map[string]*Domain
}

// domainLoad is a store read in flight that concurrent lookups of the namespace wait for.
type domainLoad struct {
	done chan struct{}
	set  *domainSet
	err  error
	// stale is set (under domainCache.mu) when this process changed the namespace while the
	// read was in flight: the read may hold the rows as they were before, so it is not kept.
	stale bool
}

func newDomainCache(store Store, clock Clock, ttl time.Duration) *domainCache {
	return &domainCache{
		store: store, clock: clock, ttl: ttl,
		sets:     boundedMap[*domainSet]{m: map[string]*domainSet{}},
		inflight: map[string]*domainLoad{},
	}
}

func namespaceKey(orgID, tenantID string) string { return orgID + "\x00" + tenantID }

// find returns the domain called name in the namespace (orgID, tenantID), or nil.
func (c *domainCache) find(ctx context.Context, orgID, tenantID, name string) (*Domain, error) {
	set, err := c.namespace(ctx, orgID, tenantID)
	if err != nil {
		return nil, err
	}
	return set.byName[name], nil
}

// namespace returns the domains of a namespace, from the cache when they are fresh.
func (c *domainCache) namespace(ctx context.Context, orgID, tenantID string) (*domainSet, error) {
	if c.ttl <= 0 {
		return c.read(ctx, orgID, tenantID, c.clock.Now())
	}
	key := namespaceKey(orgID, tenantID)
	now := c.clock.Now()
	c.mu.Lock()
	if s, ok := c.sets.m[key]; ok && within(now, s.at, c.ttl) {
		c.mu.Unlock()
		return s, nil
	}
	if l, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-l.done:
			if l.err == nil {
				return l.set, nil
			}
		case <-ctx.Done():
		}
		// The read we waited for failed (its caller's deadline, say): read for ourselves,
		// so that our own context decides our error.
		return c.read(ctx, orgID, tenantID, now)
	}
	l := &domainLoad{done: make(chan struct{})}
	c.inflight[key] = l
	c.mu.Unlock()

	l.set, l.err = c.read(ctx, orgID, tenantID, now)

	c.mu.Lock()
	delete(c.inflight, key)
	if l.err == nil && !l.stale {
		c.sets.put(now, maxCachedNamespaces, key, l.set, func(s *domainSet) bool { return !within(now, s.at, c.ttl) })
	}
	c.mu.Unlock()
	close(l.done)
	return l.set, l.err
}

func (c *domainCache) read(ctx context.Context, orgID, tenantID string, at time.Time) (*domainSet, error) {
	domains, err := c.store.NamespaceDomains(ctx, orgID, tenantID)
	if err != nil {
		return nil, AsError(err)
	}
	s := &domainSet{at: at, byName: make(map[string]*Domain, len(domains))}
	for _, d := range domains {
		s.byName[d.Name] = d
	}
	return s, nil
}

// forget drops a namespace after this process changed one of its domains.
func (c *domainCache) forget(orgID, tenantID string) {
	key := namespaceKey(orgID, tenantID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.inflight[key]; ok {
		l.stale = true
	}
	delete(c.sets.m, key)
}
