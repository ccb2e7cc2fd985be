package sendoka

import (
	"context"
	"time"
)

// EmailStore is the part of Store that email content and tracking need (embedded in Store).
type EmailStore interface {
	// GetLink returns a message's tracked link at position, whatever its scope (the caller
	// holds a signed tracking token, not an API key), or CodeNotFound.
	GetLink(ctx context.Context, messageID string, position int) (*Link, error)
	// EnsureSecret returns the secret stored under name. When there is none yet it stores
	// value first. Concurrent calls with different values all return the one value stored.
	EnsureSecret(ctx context.Context, name string, value []byte) ([]byte, error)
}

// EmailTx is the part of Tx that email content and tracking need (embedded in Tx).
//
// InsertMessages stores the Content of each EmailContent.Attachments entry apart from the
// message, so that GetMessage and ListMessages never load it (they return Attachments with
// a nil Content).
type EmailTx interface {
	// AttachmentContents returns the contents of a message's attachments, in the order of
	// EmailContent.Attachments; nil when it has none.
	AttachmentContents(ctx context.Context, messageID string) ([][]byte, error)
	// InsertLinks stores tracked links. A link whose (MessageID, Position) is already stored
	// is left as it is, so a retried delivery may insert the same links again.
	InsertLinks(ctx context.Context, links ...*Link) error
	// CountEvents counts a message's events of the given types.
	CountEvents(ctx context.Context, messageID string, types ...EventType) (int, error)
}

// Link is a link of an email's HTML that click tracking rewrote: the redirect of
// /t/c/{token} goes to URL, looked up by (MessageID, Position), never read from the token.
type Link struct {
	MessageID string
	// Position is the link's index among the tracked links of the HTML, from 0.
	Position  int
	URL       string
	CreatedAt time.Time
}
