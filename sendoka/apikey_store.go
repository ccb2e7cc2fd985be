package sendoka

import (
	"context"
	"time"
)

// APIKeyStore is the part of Store that API keys need (embedded in Store).
type APIKeyStore interface {
	// GetAPIKeyByHash returns the key with that hash, revoked, expired or not, or
	// CodeNotFound. It is the one key read without a scope: authentication is how a caller
	// gets a scope in the first place.
	GetAPIKeyByHash(ctx context.Context, hash string) (*APIKey, error)
	// GetAPIKey returns the key with that id in scope (revoked or not), or CodeNotFound.
	GetAPIKey(ctx context.Context, scope Scope, id string) (*APIKey, error)
	// ListAPIKeys returns the keys in scope, newest first ((CreatedAt, ID) descending): every
	// key of the org for an org-wide scope, only the tenant's own for a tenant scope.
	ListAPIKeys(ctx context.Context, scope Scope) ([]*APIKey, error)
	// TouchAPIKey records a use of a key: it sets LastUsedAt = at on the key with that id in
	// scope if the key was never used or was last used before ifBefore, in one conditional
	// write, and reports whether it wrote. Several processes touching a key at once write it
	// at most once per ifBefore window. An unknown id, or one outside scope, writes nothing
	// and is (false, nil).
	TouchAPIKey(ctx context.Context, scope Scope, id string, at, ifBefore time.Time) (bool, error)
}

// APIKeyTx is the part of Tx that API keys need (embedded in Tx).
//
// A store that implements KeyInvalidations reports every key it inserts or revokes to its
// watchers once the transaction commits, and never for one that rolls back.
type APIKeyTx interface {
	// InsertAPIKey inserts a key. A duplicate id or hash is CodeConflict.
	InsertAPIKey(ctx context.Context, key *APIKey) error
	// GetAPIKey is APIKeyStore.GetAPIKey inside the transaction.
	GetAPIKey(ctx context.Context, scope Scope, id string) (*APIKey, error)
	// UpdateAPIKey writes key's Name, Permissions, AllowedCIDRs, AllowedDomainIDs and
	// ExpiresAt on the key with key.ID in scope, if it is not revoked. An unknown, revoked or
	// out-of-scope key is CodeNotFound. Like a revocation, the change reaches the
	// KeyInvalidations feed at commit.
	UpdateAPIKey(ctx context.Context, scope Scope, key *APIKey) error
	// RevokeAPIKey sets RevokedAt = at on a key in scope that is not yet revoked. An unknown
	// key, or one outside scope (another org's, another tenant's), is CodeNotFound; revoking
	// twice keeps the first time.
	RevokeAPIKey(ctx context.Context, scope Scope, id string, at time.Time) error
}

// KeyInvalidations is an optional extra of a Store, discovered by type assertion: a feed that
// tells every process sharing the database, within milliseconds, that an API key changed.
// With it the Client trusts a cached key for AuthCacheConfig.TTL instead of one second
// (apikey_cache.go). storage/bunstore implements it on Postgres with LISTEN/NOTIFY.
type KeyInvalidations interface {
	// WatchAPIKeys starts reporting key changes to w in the background, until ctx is done or
	// the store is closed, and returns true; once ctx is done w hears nothing more. A store
	// that cannot watch (bunstore on SQLite) returns false and never calls w. Until the
	// feed's first KeysSynced, w must assume it is lost.
	WatchAPIKeys(ctx context.Context, w KeyWatcher) bool
}

// KeyWatcher receives a KeyInvalidations feed. Its methods return quickly, are safe for
// concurrent use, and may be called on the store's own goroutine; a feed makes its calls
// one at a time, in order.
//
// A feed is live from a KeysSynced call to the next KeysLost. While it is live it reports,
// through KeyChanged, every key that any process inserts or changes (revokes), in commit
// order. A change committed while it was lost may never be reported. A KeyChanged for a hash
// the watcher does not know is harmless (bunstore's channel is shared by every schema of a
// Postgres database).
type KeyWatcher interface {
	// KeyChanged reports that the key with this hash was inserted or changed.
	KeyChanged(hash string)
	// KeysSynced reports that the feed is live, and that every change committed more than
	// lag ago, and after the watch began or the feed last came back, has been reported. A
	// live feed calls it every few hundred milliseconds (bunstore: every 250 ms); the Client
	// trusts it for RevocationDelay after the moment it vouches for. The first call after
	// KeysLost, or after the watch began, starts a new feed.
	KeysSynced(lag time.Duration)
	// KeysLost reports that the feed is down: changes may go unreported until the next
	// KeysSynced.
	KeysLost()
}
