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
	// ListAPIKeys returns the keys in scope, newest first ((CreatedAt, ID) descending): every
	// key of the org for an org-wide scope, only the tenant's own for a tenant scope.
	ListAPIKeys(ctx context.Context, scope Scope) ([]*APIKey, error)
}

// APIKeyTx is the part of Tx that API keys need (embedded in Tx).
type APIKeyTx interface {
	// InsertAPIKey inserts a key. A duplicate id or hash is CodeConflict.
	InsertAPIKey(ctx context.Context, key *APIKey) error
	// RevokeAPIKey sets RevokedAt = at on a key in scope that is not yet revoked. An unknown
	// key, or one outside scope (another org's, another tenant's), is CodeNotFound; revoking
	// twice keeps the first time.
	RevokeAPIKey(ctx context.Context, scope Scope, id string, at time.Time) error
}
