package sendoka

import (
	"context"
	"encoding/base64"
	"strings"
	"time"
)

// GetMessage returns a message of the given channel with its event timeline. An id that is
// unknown, of another channel, or outside the principal's scope is CodeNotFound.
func (c *Client) GetMessage(ctx context.Context, p *Principal, channel Channel, id string) (*Message, error) {
	if err := p.require(readPermissions(channel)...); err != nil {
		return nil, err
	}
	// The message and its events are two reads. A status change and its event commit
	// together, so an event newer than the message read means the status moved in between:
	// read again, so the status and the timeline agree.
	for attempt := 0; ; attempt++ {
		m, err := c.store.GetMessage(ctx, p.Scope(), id)
		if err != nil {
			return nil, AsError(err)
		}
		if m.Channel != channel {
			return nil, NotFound("message")
		}
		if m.Events, err = c.store.ListEvents(ctx, p.Scope(), id); err != nil {
			return nil, AsError(err)
		}
		if m.Recipients, err = c.store.ListMessageRecipients(ctx, p.Scope(), id); err != nil {
			return nil, AsError(err)
		}
		if attempt >= 3 || !eventsAfter(m.Events, m.UpdatedAt) {
			return m, nil
		}
	}
}

// eventsAfter reports whether an event that carries a status was recorded after t.
func eventsAfter(events []Event, t time.Time) bool {
	for _, ev := range events {
		if ev.Status != "" && ev.CreatedAt.After(t) {
			return true
		}
	}
	return false
}

// ListParams are the documented list query parameters.
type ListParams struct {
	Limit  int    // 1..100, default 20
	Cursor string // the next_cursor of a previous page
	Status Status
	Tag    string
	// TenantID lists one tenant's items only (platform mode): see Client.ForTenant.
	TenantID string
	// Recipient, Stream, CreatedAfter and CreatedBefore filter messages only: the first
	// recipient (To of an email, compared without case; To of an SMS), the stream
	// (StreamTransactional or StreamBroadcast), and the creation time [CreatedAfter,
	// CreatedBefore).
	Recipient                   string
	Stream                      string
	CreatedAfter, CreatedBefore *time.Time
}

// MessageList is one page of messages.
type MessageList struct {
	Messages   []*Message
	HasMore    bool
	NextCursor string // "" when there is no next page
}

// Listing limits.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
)

// ListMessages returns a page of a channel's messages, newest first.
func (c *Client) ListMessages(ctx context.Context, p *Principal, channel Channel, lp ListParams) (*MessageList, error) {
	if err := p.require(readPermissions(channel)...); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, lp.TenantID)
	if err != nil {
		return nil, err
	}
	var v Validation
	q := MessageQuery{Channel: channel, Status: lp.Status, Tag: lp.Tag, Limit: lp.Limit,
		Recipient: strings.ToLower(strings.TrimSpace(lp.Recipient)), Stream: lp.Stream,
		CreatedAfter: lp.CreatedAfter, CreatedBefore: lp.CreatedBefore}
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	q.After = checkPage(&v, q.Limit, lp.Cursor)
	if lp.Status != "" && !lp.Status.Valid() {
		v.Add(FieldInvalid, "unknown status", "status")
	}
	if lp.Stream != "" && lp.Stream != StreamTransactional && lp.Stream != StreamBroadcast {
		v.Add(FieldInvalid, "transactional or broadcast", "stream")
	}
	if len(q.Recipient) > MaxAddressLen {
		v.Add(FieldTooBig, "at most 320 characters", "recipient")
	}
	if lp.CreatedAfter != nil && lp.CreatedBefore != nil && !lp.CreatedAfter.Before(*lp.CreatedBefore) {
		v.Add(FieldInvalid, "must be before created_before", "created_after")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	page, err := c.store.ListMessages(ctx, p.Scope(), q)
	if err != nil {
		return nil, AsError(err)
	}
	out := &MessageList{Messages: page.Messages, HasMore: page.HasMore}
	if page.HasMore && len(page.Messages) > 0 {
		last := page.Messages[len(page.Messages)-1]
		out.NextCursor = EncodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return out, nil
}

// checkPage validates the shared list parameters (limit after its default, cursor) and
// returns the decoded cursor, nil for the first page.
func checkPage(v *Validation, limit int, cursor string) *Cursor {
	if limit < 1 || limit > MaxListLimit {
		v.Add(FieldTooBig, "limit must be between 1 and 100", "limit")
	}
	if cursor == "" {
		return nil
	}
	cur, err := DecodeCursor(cursor)
	if err != nil {
		v.Add(FieldInvalid, "malformed cursor", "cursor")
	}
	return cur
}

func readPermissions(ch Channel) []Permission {
	if ch == ChannelSMS {
		return []Permission{PermissionSMSRead, PermissionSMSSend}
	}
	return []Permission{PermissionEmailsRead, PermissionEmailsSend}
}

// EncodeCursor returns the documented cursor form: base64url of "{created_at}|{id}".
func EncodeCursor(c Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID))
}

// Cursor times outside this range are refused: no message, template or sender is created
// before 1970, RFC 3339 has four-digit years, and Postgres refuses a timestamp of year 0
// ("date/time field value out of range") where SQLite would compare strings.
var (
	minCursorTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxCursorTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// validCursorID reports whether id can be a cursor's id: 1 to 64 printable ASCII characters,
// as every id Sendoka makes is. Anything else (NUL, invalid UTF-8) names no row, and some
// databases refuse to compare with it (Postgres: "invalid byte sequence").
func validCursorID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// DecodeCursor parses a cursor made by EncodeCursor (padded base64url is accepted too). A
// cursor whose time, in UTC, falls outside 1970-01-01 to 9999-12-31 is malformed: EncodeCursor
// never makes one, and a database may refuse to compare with it.
func DecodeCursor(s string) (*Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, err
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	if !ok || !validCursorID(id) {
		return nil, Errorf(CodeValidation, "malformed cursor")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return nil, err
	}
	t = t.UTC()
	if t.Before(minCursorTime) || t.After(maxCursorTime) {
		return nil, Errorf(CodeValidation, "malformed cursor: time out of range")
	}
	return &Cursor{CreatedAt: t, ID: id}, nil
}
