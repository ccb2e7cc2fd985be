package sendoka

import (
	"context"
	"time"

	"github.com/oklog/ulid/v2"
)

// Retention: periodic jobs purge message content after RetentionConfig.Content and delete
// whole messages after RetentionConfig.Messages, in bounded chunks, on one node at a time
// (JobPurgeContent, JobPurgeMessages on the maintenance queue).
//
// Purging content blanks what a message says (an email's HTML, text and extra headers and
// its attachments' bytes; an SMS's body and media URLs) and keeps who it was from and to, the
// subject, attachment names and sizes, tags, metadata, status and events: the message still
// answers GET, with ContentPurgedAt set ("content_purged": true in the API). Only finished
// messages (a terminal status) are purged; one that was not finished when its turn came (a
// send scheduled far ahead) keeps its content until the message itself is deleted.
//
// Deleting removes the message with its events, tags, attachments and tracked links.

// Retention defaults.
const (
	DefaultContentRetention = 30 * 24 * time.Hour
	DefaultMessageRetention = 400 * 24 * time.Hour
	// RetentionChunk is how many messages one statement of a purge handles.
	RetentionChunk = 500
	// RetentionInterval is how often the purge jobs run.
	RetentionInterval = time.Hour
)

// RetentionConfig says how long messages keep their content, and how long they are kept.
type RetentionConfig struct {
	// Content is how long after its creation a finished message keeps its content. Zero
	// means DefaultContentRetention; negative keeps content for as long as the message.
	Content time.Duration
	// Messages is how long a message is kept. Zero means DefaultMessageRetention; negative
	// keeps messages for ever.
	Messages time.Duration
}

func (r RetentionConfig) withDefaults() RetentionConfig {
	if r.Content == 0 {
		r.Content = DefaultContentRetention
	}
	if r.Messages == 0 {
		r.Messages = DefaultMessageRetention
	}
	return r
}

// RetentionStore scans and purges old messages, whatever their scope.
type RetentionStore interface {
	// MessagesCreatedBefore returns at most limit messages whose id sorts after after and
	// before beforeID (ids sort by creation time), in id order, with their content.
	MessagesCreatedBefore(ctx context.Context, after, beforeID string, limit int) ([]*Message, error)
	// PurgeContent stores the (blanked) content of msgs, sets their ContentPurgedAt to at
	// and deletes the bytes of their attachments.
	PurgeContent(ctx context.Context, msgs []*Message, at time.Time) error
	// DeleteMessagesBefore deletes at most limit messages whose id sorts before beforeID,
	// with everything that belongs to them, and returns how many it deleted.
	DeleteMessagesBefore(ctx context.Context, beforeID string, limit int) (int, error)
	// GetCursor and SetCursor keep a named position of a periodic scan ("" at first).
	GetCursor(ctx context.Context, name string) (string, error)
	SetCursor(ctx context.Context, name, value string, at time.Time) error
}

// idBefore is the smallest id of prefix minted at t: every id minted earlier sorts before it.
func idBefore(prefix string, t time.Time) string {
	var u ulid.ULID
	_ = u.SetTime(ulid.Timestamp(t))
	return prefix + u.String()
}

const contentCursor = "retention_content"

// PurgeContent blanks the content of finished messages created more than the content
// retention ago, chunk by chunk, until none is left or ctx ends; it returns how many it
// purged. A run that stops early resumes where it stopped (a cursor in the store).
func (c *Client) PurgeContent(ctx context.Context) (int, error) {
	if c.retention.Content < 0 {
		return 0, nil
	}
	if _, err := c.DeleteOldInboundEmails(ctx); err != nil { // inbound_email.go
		return 0, err
	}
	before := idBefore(PrefixMessage, c.now().Add(-c.retention.Content))
	cursor, err := c.store.GetCursor(ctx, contentCursor)
	if err != nil {
		return 0, err
	}
	total := 0
	for ctx.Err() == nil {
		msgs, err := c.store.MessagesCreatedBefore(ctx, cursor, before, RetentionChunk)
		if err != nil || len(msgs) == 0 {
			return total, err
		}
		var purge []*Message
		for _, m := range msgs {
			if m.Status.Terminal() && m.ContentPurgedAt == nil {
				blankContent(m)
				purge = append(purge, m)
			}
		}
		now := c.now()
		if len(purge) > 0 {
			if err := c.store.PurgeContent(ctx, purge, now); err != nil {
				return total, err
			}
		}
		total += len(purge)
		cursor = msgs[len(msgs)-1].ID
		if err := c.store.SetCursor(ctx, contentCursor, cursor, now); err != nil {
			return total, err
		}
	}
	return total, ctx.Err()
}

// blankContent removes what m says, keeping who it was from and to and what it was about.
func blankContent(m *Message) {
	if e := m.Email; e != nil {
		e.HTML, e.Text, e.Headers = "", "", nil
		for i := range e.Attachments {
			e.Attachments[i].Content = nil
		}
	}
	if s := m.SMS; s != nil {
		s.Body, s.MediaURLs = "", nil
	}
}

// DeleteOldMessages deletes messages created more than the message retention ago, chunk by
// chunk, until none is left or ctx ends; it returns how many it deleted.
func (c *Client) DeleteOldMessages(ctx context.Context) (int, error) {
	if c.retention.Messages < 0 {
		return 0, nil
	}
	before := idBefore(PrefixMessage, c.now().Add(-c.retention.Messages))
	total := 0
	for ctx.Err() == nil {
		n, err := c.store.DeleteMessagesBefore(ctx, before, RetentionChunk)
		total += n
		if err != nil || n < RetentionChunk {
			return total, err
		}
	}
	return total, ctx.Err()
}
