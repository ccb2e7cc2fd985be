package sendoka

import (
	"context"
	"time"
)

// IdempotencyKey names one idempotency record: whose it is (org, tenant, mode), which
// operation it belongs to (Route) and the caller's key. Two callers, or one caller on two
// routes, never share a record.
type IdempotencyKey struct {
	OrgID string
	// TenantID is the tenant of a tenant-bound key, "" for an org-level key.
	TenantID string
	Mode     Mode
	// Route is the operation: its method and route pattern ("POST /api/v1/emails").
	Route string
	// Key is the caller's Idempotency-Key, 1 to MaxIdempotencyKeyLen printable ASCII
	// characters.
	Key string
}

// IdempotencyState says where the request that holds a record is.
type IdempotencyState string

// The states of an idempotency record.
const (
	// IdempotencyLocked: a request holds the record and has not finished (or died).
	IdempotencyLocked IdempotencyState = "locked"
	// IdempotencyCompleted: the record holds the response to replay.
	IdempotencyCompleted IdempotencyState = "completed"
)

// IdempotencyRecord is what is stored under an IdempotencyKey.
type IdempotencyRecord struct {
	IdempotencyKey
	// RequestHash is the hex SHA-256 of the request's canonical body (RequestHash).
	RequestHash string
	// Token identifies the request that holds the record: every write after the first is
	// conditional on it, so a request whose lock was taken over can no longer write.
	Token    string
	State    IdempotencyState
	LockedAt time.Time
	// Response is the stored response; nil while the record is locked.
	Response  *StoredResponse
	CreatedAt time.Time
}

// StoredResponse is the response a replay returns, byte for byte. The core does not
// interpret it: the host that made it (hosts/httpapi) does.
type StoredResponse struct {
	// Status is the host's status code (an HTTP status).
	Status int
	// Header holds the response headers worth replaying (Content-Type, Location), never
	// per-request ones such as rate limits.
	Header map[string]string
	Body   []byte
}

// IdempotencyStore is the part of Store that idempotency keys need (embedded in Store).
// Every method commits on its own; IdempotencyTx completes a record inside the transaction
// of what the request creates. Several processes may call them at once on the same key;
// each call is atomic, and every conditional write says whether it happened.
type IdempotencyStore interface {
	// CreateIdempotencyRecord inserts rec unless a record with its key exists, and reports
	// whether it did. rec is locked (State IdempotencyLocked, no Response).
	CreateIdempotencyRecord(ctx context.Context, rec *IdempotencyRecord) (bool, error)
	// GetIdempotencyRecord returns the record of k, or CodeNotFound.
	GetIdempotencyRecord(ctx context.Context, k IdempotencyKey) (*IdempotencyRecord, error)
	// TakeOverIdempotencyRecord replaces the record of rec's key with rec (RequestHash,
	// Token, State locked, LockedAt, CreatedAt; the Response cleared) if the stored record
	// still has Token from and either is locked with LockedAt at or before lockedBefore (its
	// holder died) or was created at or before createdBefore (it expired). It reports
	// whether it did: of concurrent take-overs of one record at most one succeeds.
	TakeOverIdempotencyRecord(ctx context.Context, rec *IdempotencyRecord, from string, lockedBefore, createdBefore time.Time) (bool, error)
	// CompleteIdempotencyRecord stores resp on the record of k and marks it completed if
	// the record still has token, and reports whether it did.
	CompleteIdempotencyRecord(ctx context.Context, k IdempotencyKey, token string, resp *StoredResponse) (bool, error)
	// ReleaseIdempotencyRecord deletes the record of k if it still has token and is locked,
	// and reports whether it did. A completed record is never released.
	ReleaseIdempotencyRecord(ctx context.Context, k IdempotencyKey, token string) (bool, error)
	// DeleteIdempotencyRecords deletes every record created at or before before, whatever
	// its state, and returns how many it deleted.
	DeleteIdempotencyRecords(ctx context.Context, before time.Time) (int64, error)
}

// IdempotencyTx is the part of Tx that idempotency keys need (embedded in Tx).
type IdempotencyTx interface {
	// CompleteIdempotencyRecord is IdempotencyStore's, inside the transaction: the
	// completed record commits with what the request created, or neither does.
	CompleteIdempotencyRecord(ctx context.Context, k IdempotencyKey, token string, resp *StoredResponse) (bool, error)
	// InsertCompletedIdempotencyRecords inserts recs, completed with their Response, inside
	// the transaction, in as few statements as the database allows, skipping any whose key
	// exists; it reports whether it inserted them all. A concurrent transaction inserting
	// one of the keys is waited for: if it commits, that record is skipped.
	InsertCompletedIdempotencyRecords(ctx context.Context, recs ...*IdempotencyRecord) (bool, error)
}
