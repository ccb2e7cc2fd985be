package sendoka

import (
	"context"
	"time"
)

// MessageUpdate is one message of Tx.UpdateMessages: its delivery fields, written if its
// stored status is From.
type MessageUpdate struct {
	Message *Message
	From    Status
}

// Claim names a message a delivery job means to claim (Store.ClaimUnclaimed).
type Claim struct {
	MessageID string
	JobID     int64
}

// Store is the core's persistence port. Implementations: storage/bunstore (Postgres and
// SQLite). The conformance suite storage/storetest pins the contract below.
//
// Errors: a lookup of an id that does not exist in the given Scope returns an *Error with
// CodeNotFound (use NotFound); a write that breaks a unique constraint returns CodeConflict;
// a database that cannot be reached or does not answer in time (the context's deadline
// included): CodeUnavailable, with RetryAfterSeconds, from InTx and every read alike.
// Anything else may be returned raw; the core wraps it once as CodeInternal.
//
// Times: implementations keep at least microsecond precision and return times in UTC. The
// core truncates every time it writes to the microsecond.
//
// Optional extras, discovered by type assertion: KeyInvalidations (apikey_store.go), a feed
// of API key changes that lets every process cache keys for longer than a second.
type Store interface {
	// InTx runs fn in one database transaction: it commits if fn returns nil and rolls back
	// otherwise (and on panic, which it re-raises). Jobs enqueued through the Tx commit with it.
	InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error

	// GetMessage returns a message in scope, without its events.
	GetMessage(ctx context.Context, scope Scope, id string) (*Message, error)
	// ListMessages returns one page of messages in scope, newest first: ordered by
	// (CreatedAt, ID) descending, strictly after q.After when it is set (keyset pagination).
	// It returns at most q.Limit messages, and HasMore tells whether more follow.
	ListMessages(ctx context.Context, scope Scope, q MessageQuery) (*MessagePage, error)
	// ListEvents returns a message's events, oldest first ((CreatedAt, ID) ascending). A
	// message outside scope has no events.
	ListEvents(ctx context.Context, scope Scope, messageID string) ([]Event, error)

	// ClaimUnclaimed is the fast claim of deliveries: in one statement that commits on its
	// own, it sets ClaimedAt = at and LeaseUntil = until on each message of claims that is
	// queued or scheduled, has no claim (lapsed or live), and whose JobID is its claim's
	// JobID or 0; and returns the messages it claimed, as claimed, in any order. A message
	// it leaves out (any condition failed, or it does not exist) is for the caller to look
	// at closer (Tx.ClaimMessage). Two concurrent claims of a message never both succeed;
	// claims names each message once.
	ClaimUnclaimed(ctx context.Context, claims []Claim, at, until time.Time) ([]*Message, error)

	// ListOrgs returns every org, oldest first.
	ListOrgs(ctx context.Context) ([]*Org, error)

	APIKeyStore         // apikey_store.go
	TemplateStore       // template.go
	SenderStore         // sender.go
	SuppressionStore    // suppression.go
	EmailStore          // email_store.go
	LimitStore          // limits_store.go
	UsageStore          // usage.go
	TenantStore         // tenant.go
	DomainStore         // domain.go
	RetentionStore      // retention.go
	IdempotencyStore    // idempotency_store.go
	WebhookStore        // webhook_store.go
	ProviderIngestStore // provider_ingest.go
	AudienceStore       // audience.go
	AudienceSendStore   // audience_send.go
	InboundRouteStore   // inbound_route.go
	InboundEmailStore   // inbound_email.go
	UserStore           // user.go
}

// Tx is one open transaction. Its methods must only be called from inside the InTx callback
// that received it. Implementations that can share their transaction with a Queue expose it
// through a method the queue knows (storage/bunstore's Tx has SQLTx() *sql.Tx).
type Tx interface {
	InsertOrg(ctx context.Context, org *Org) error

	// InsertMessages inserts messages (each with its content, tags and metadata), in as few
	// statements as the database allows.
	InsertMessages(ctx context.Context, msgs ...*Message) error
	// InsertEvents appends events.
	InsertEvents(ctx context.Context, events ...*Event) error
	// GetMessage returns a message by id whatever its scope (for workers), or CodeNotFound.
	GetMessage(ctx context.Context, id string) (*Message, error)
	// ClaimMessage sets ClaimedAt = at and LeaseUntil = until on the message if its status is
	// one of from and it is not claimed or its claim lapsed (LeaseUntil before at), and
	// reports whether it did. Two concurrent claims never both succeed.
	ClaimMessage(ctx context.Context, id string, at, until time.Time, from ...Status) (bool, error)
	// RenewClaim sets LeaseUntil = until if the message is still queued or scheduled and
	// still holds the claim taken at claimedAt, and reports whether it did (false: the claim
	// was given up, or taken over by recovery after it lapsed).
	RenewClaim(ctx context.Context, id string, claimedAt, until time.Time) (bool, error)
	// LapsedClaims returns at most limit queued or scheduled messages whose claim lapsed
	// (LeaseUntil before now), oldest lease first.
	LapsedClaims(ctx context.Context, now time.Time, limit int) ([]*Message, error)
	// UpdateMessage writes m's delivery fields (Status, ClaimedAt, LeaseUntil, ScheduledAt,
	// JobID, Provider, ProviderMessageID, Diagnostic, Outcome, Attempts, DeliveryAttempts,
	// NextRetryAt, UpdatedAt, SentAt, CompletedAt) if the stored status is one of from, and
	// reports whether it did. Content, tags, metadata, ids and CreatedAt are never changed.
	UpdateMessage(ctx context.Context, m *Message, from ...Status) (bool, error)
	// UpdateMessages is UpdateMessage for many messages in one statement: each update's
	// message is written if its stored status is the update's From. It returns how many
	// were written.
	UpdateMessages(ctx context.Context, updates []MessageUpdate) (int, error)

	APIKeyTx         // apikey_store.go
	TemplateTx       // template.go
	SenderTx         // sender.go
	SuppressionTx    // suppression.go
	EmailTx          // email_store.go
	TenantTx         // tenant.go
	DomainTx         // domain.go
	IdempotencyTx    // idempotency_store.go
	WebhookTx        // webhook_store.go
	ProviderIngestTx // provider_ingest.go
	AudienceTx       // audience.go
	AudienceSendTx   // audience_send.go
	UnsubscribeTx    // unsubscribe.go
	InboundRouteTx   // inbound_route.go
	InboundEmailTx   // inbound_email.go
	UserTx           // user.go
}

// MessageQuery selects messages for ListMessages. Zero fields do not filter.
type MessageQuery struct {
	Channel Channel
	Status  Status
	Tag     string
	// Recipient is the message's first recipient, lower case (Message.Email.To[0] compared
	// without case, or SMS.To).
	Recipient string
	// Stream is StreamTransactional (messages with no stream) or StreamBroadcast.
	Stream string
	// CreatedAfter and CreatedBefore bound CreatedAt: [CreatedAfter, CreatedBefore).
	CreatedAfter, CreatedBefore *time.Time
	Limit                       int // 1..100; the core always sets it
	After                       *Cursor
}

// Cursor is a position in a newest-first listing: the last (CreatedAt, ID) seen.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// MessagePage is one page of ListMessages.
type MessagePage struct {
	Messages []*Message
	HasMore  bool
}
