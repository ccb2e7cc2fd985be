package bunstore

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/uptrace/bun"

	"github.com/sendoka/sendoka/sendoka"
)

// timeLayout is how times travel to the database: UTC, fixed width, microseconds. On SQLite
// the column keeps this text, so text order is time order; Postgres parses it into a
// timestamptz. Bun's own SQLite format trims trailing zeros, which would not be fixed width.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// timestamp is a time column. Its zero value is NULL (with bun's nullzero tag).
type timestamp struct{ time.Time }

func ts(t time.Time) timestamp { return timestamp{t} }

func tsPtr(t *time.Time) timestamp {
	if t == nil {
		return timestamp{}
	}
	return timestamp{*t}
}

// Value implements driver.Valuer.
func (t timestamp) Value() (driver.Value, error) {
	if t.IsZero() {
		return nil, nil
	}
	return t.UTC().Format(timeLayout), nil
}

// TimestamptzValue implements pgtype.TimestamptzValuer: Postgres (through pgx) takes the time
// in its binary form, instead of failing to and falling back to parsing the text (an error
// built and dropped for every time bound to a statement).
func (t timestamp) TimestamptzValue() (pgtype.Timestamptz, error) {
	if t.IsZero() {
		return pgtype.Timestamptz{}, nil // NULL
	}
	return pgtype.Timestamptz{Time: t.UTC(), Valid: true}, nil
}

// Scan implements sql.Scanner: Postgres hands over a time.Time, SQLite the stored text.
func (t *timestamp) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		t.Time = time.Time{}
	case time.Time:
		t.Time = v.UTC()
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	default:
		return fmt.Errorf("bunstore: cannot scan %T into a time", src)
	}
	return nil
}

func (t *timestamp) parse(s string) error {
	p, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("bunstore: bad stored time %q: %w", s, err)
	}
	t.Time = p.UTC()
	return nil
}

// ptr returns the time, or nil for NULL.
func (t timestamp) ptr() *time.Time {
	if t.IsZero() {
		return nil
	}
	v := t.Time
	return &v
}

// toJSON encodes v for a nullable JSON column: "" (stored as NULL) when v is nil.
func toJSON[T any](v *T) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// sliceJSON keeps nil and empty apart: nil is NULL, empty is "[]".
func sliceJSON[T any](v []T) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

func mapJSON(v map[string]any) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// fromJSON decodes a nullable JSON column into dst; NULL leaves dst alone.
func fromJSON(s string, dst any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), dst); err != nil {
		return fmt.Errorf("bunstore: bad stored JSON: %w", err)
	}
	return nil
}

type orgRow struct {
	bun.BaseModel `bun:"table:orgs,alias:o"`

	ID             string    `bun:"id,pk"`
	Name           string    `bun:"name"`
	Plan           string    `bun:"plan"`
	BurstPerMinute *int64    `bun:"burst_per_minute"`
	MonthlyEmails  *int64    `bun:"monthly_emails"`
	MonthlySMS     *int64    `bun:"monthly_sms"`
	CreatedAt      timestamp `bun:"created_at"`
}

func newOrgRow(o *sendoka.Org) *orgRow {
	return &orgRow{ID: o.ID, Name: o.Name, Plan: o.Plan, BurstPerMinute: o.Limits.BurstPerMinute,
		MonthlyEmails: o.Limits.MonthlyEmails, MonthlySMS: o.Limits.MonthlySMS, CreatedAt: ts(o.CreatedAt)}
}

func (r *orgRow) org() *sendoka.Org {
	return &sendoka.Org{ID: r.ID, Name: r.Name, Plan: r.Plan, CreatedAt: r.CreatedAt.Time,
		Limits: sendoka.OrgLimits{BurstPerMinute: r.BurstPerMinute, MonthlyEmails: r.MonthlyEmails, MonthlySMS: r.MonthlySMS}}
}

type apiKeyRow struct {
	bun.BaseModel `bun:"table:api_keys,alias:k"`

	ID               string    `bun:"id,pk"`
	OrgID            string    `bun:"org_id"`
	TenantID         string    `bun:"tenant_id,nullzero"`
	Name             string    `bun:"name"`
	Prefix           string    `bun:"prefix"`
	Hash             string    `bun:"hash"`
	Mode             string    `bun:"mode"`
	Permissions      string    `bun:"permissions,nullzero"`
	AllowedCIDRs     string    `bun:"allowed_cidrs,nullzero"`
	AllowedDomainIDs string    `bun:"allowed_domain_ids,nullzero"`
	CreatedAt        timestamp `bun:"created_at"`
	ExpiresAt        timestamp `bun:"expires_at,nullzero"`
	RevokedAt        timestamp `bun:"revoked_at,nullzero"`
	LastUsedAt       timestamp `bun:"last_used_at,nullzero"`
}

func newAPIKeyRow(k *sendoka.APIKey) (*apiKeyRow, error) {
	r := &apiKeyRow{
		ID: k.ID, OrgID: k.OrgID, TenantID: k.TenantID, Name: k.Name, Prefix: k.Prefix,
		Hash: k.Hash, Mode: string(k.Mode), CreatedAt: ts(k.CreatedAt),
		ExpiresAt: tsPtr(k.ExpiresAt), RevokedAt: tsPtr(k.RevokedAt), LastUsedAt: tsPtr(k.LastUsedAt),
	}
	var err error
	if r.Permissions, err = sliceJSON(k.Permissions); err != nil {
		return nil, err
	}
	if r.AllowedCIDRs, err = sliceJSON(k.AllowedCIDRs); err != nil {
		return nil, err
	}
	if r.AllowedDomainIDs, err = sliceJSON(k.AllowedDomainIDs); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *apiKeyRow) key() (*sendoka.APIKey, error) {
	k := &sendoka.APIKey{
		ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, Name: r.Name, Prefix: r.Prefix,
		Hash: r.Hash, Mode: sendoka.Mode(r.Mode), CreatedAt: r.CreatedAt.Time,
		ExpiresAt: r.ExpiresAt.ptr(), RevokedAt: r.RevokedAt.ptr(), LastUsedAt: r.LastUsedAt.ptr(),
	}
	if err := fromJSON(r.Permissions, &k.Permissions); err != nil {
		return nil, err
	}
	if err := fromJSON(r.AllowedCIDRs, &k.AllowedCIDRs); err != nil {
		return nil, err
	}
	if err := fromJSON(r.AllowedDomainIDs, &k.AllowedDomainIDs); err != nil {
		return nil, err
	}
	return k, nil
}

type messageRow struct {
	bun.BaseModel `bun:"table:messages,alias:m"`

	ID       string `bun:"id,pk"`
	OrgID    string `bun:"org_id"`
	TenantID string `bun:"tenant_id,nullzero"`
	KeyID    string `bun:"key_id,nullzero"`
	Channel  string `bun:"channel"`
	Mode     string `bun:"mode"`
	Status   string `bun:"status"`
	// Sender and Recipient (the first To) are copies of the content, for queries to come.
	Sender    string `bun:"sender"`
	Recipient string `bun:"recipient"`
	// Content is the EmailContent or SMSContent, as Channel says.
	Content string `bun:"content,nullzero"`
	// Tags is a copy of message_tags for reading the message back in one query; tags never
	// change after insert, so the copy cannot drift. Filters use message_tags.
	Tags              string    `bun:"tags,nullzero"`
	Metadata          string    `bun:"metadata,nullzero"`
	ScheduledAt       timestamp `bun:"scheduled_at,nullzero"`
	JobID             int64     `bun:"job_id"`
	ClaimedAt         timestamp `bun:"claimed_at,nullzero"`
	LeaseUntil        timestamp `bun:"lease_until,nullzero"`
	Provider          string    `bun:"provider"`
	ProviderMessageID string    `bun:"provider_message_id"`
	Diagnostic        string    `bun:"diagnostic,nullzero"`
	Outcome           string    `bun:"outcome"`
	Attempts          int       `bun:"attempts"`
	// DeliveryAttempts is the JSON list of sendoka.DeliveryAttempt, oldest first.
	DeliveryAttempts string    `bun:"delivery_attempts,nullzero"`
	NextRetryAt      timestamp `bun:"next_retry_at,nullzero"`
	CreatedAt        timestamp `bun:"created_at"`
	UpdatedAt        timestamp `bun:"updated_at"`
	SentAt           timestamp `bun:"sent_at,nullzero"`
	CompletedAt      timestamp `bun:"completed_at,nullzero"`
	// ContentPurgedAt is when retention blanked the content (sendoka/retention.go).
	ContentPurgedAt timestamp `bun:"content_purged_at,nullzero"`
	// Stream is "broadcast" for audience sends, NULL for transactional messages.
	Stream string `bun:"stream,nullzero"`
}

// messageColumns are the columns of messageRow in the order values gives them
// (TestRowColumns holds them to the struct's tags).
var messageColumns = []string{
	"id", "org_id", "tenant_id", "key_id", "channel", "mode", "status", "sender", "recipient",
	"content", "tags", "metadata", "scheduled_at", "job_id", "claimed_at", "lease_until",
	"provider", "provider_message_id", "diagnostic", "outcome", "attempts", "delivery_attempts",
	"next_retry_at", "created_at", "updated_at", "sent_at", "completed_at", "content_purged_at",
	"stream",
}

// values returns the row's values in messageColumns order, for insertValues.
func (r *messageRow) values() []any {
	return []any{
		r.ID, r.OrgID, nullString(r.TenantID), nullString(r.KeyID), r.Channel, r.Mode, r.Status,
		r.Sender, r.Recipient, nullString(r.Content), nullString(r.Tags), nullString(r.Metadata),
		r.ScheduledAt, r.JobID, r.ClaimedAt, r.LeaseUntil, r.Provider, r.ProviderMessageID,
		nullString(r.Diagnostic), r.Outcome, r.Attempts, nullString(r.DeliveryAttempts),
		r.NextRetryAt, r.CreatedAt, r.UpdatedAt, r.SentAt, r.CompletedAt, r.ContentPurgedAt,
		nullString(r.Stream),
	}
}

// scanDest returns pointers to the row's fields in messageColumns order, for rows.Scan.
func (r *messageRow) scanDest() []any {
	return []any{
		&r.ID, &r.OrgID, (*nullString)(&r.TenantID), (*nullString)(&r.KeyID), &r.Channel, &r.Mode,
		&r.Status, &r.Sender, &r.Recipient, (*nullString)(&r.Content), (*nullString)(&r.Tags),
		(*nullString)(&r.Metadata), &r.ScheduledAt, &r.JobID, &r.ClaimedAt, &r.LeaseUntil,
		&r.Provider, &r.ProviderMessageID, (*nullString)(&r.Diagnostic), &r.Outcome, &r.Attempts,
		(*nullString)(&r.DeliveryAttempts), &r.NextRetryAt, &r.CreatedAt, &r.UpdatedAt, &r.SentAt,
		&r.CompletedAt, &r.ContentPurgedAt, (*nullString)(&r.Stream),
	}
}

// deliveryValues returns the values of deliveryColumns, in order.
func (r *messageRow) deliveryValues() []any {
	return []any{
		r.Status, r.ClaimedAt, r.LeaseUntil, r.ScheduledAt, r.JobID, r.Provider,
		r.ProviderMessageID, nullString(r.Diagnostic), r.Outcome, r.Attempts,
		nullString(r.DeliveryAttempts), r.NextRetryAt, r.UpdatedAt, r.SentAt, r.CompletedAt,
	}
}

// deliveryColumns are the columns UpdateMessage writes.
var deliveryColumns = []string{
	"status", "claimed_at", "lease_until", "scheduled_at", "job_id", "provider",
	"provider_message_id", "diagnostic", "outcome", "attempts", "delivery_attempts",
	"next_retry_at", "updated_at", "sent_at", "completed_at",
}

func newMessageRow(m *sendoka.Message) (*messageRow, error) {
	r := &messageRow{
		ID: m.ID, OrgID: m.OrgID, TenantID: m.TenantID, KeyID: m.KeyID,
		Channel: string(m.Channel), Mode: string(m.Mode),
		Sender: m.From(), Stream: m.Stream,
	}
	var err error
	switch {
	case m.Email != nil:
		if len(m.Email.To) > 0 {
			r.Recipient = m.Email.To[0]
		}
		r.Content, err = toJSON(m.Email)
	case m.SMS != nil:
		r.Recipient = m.SMS.To
		r.Content, err = toJSON(m.SMS)
	}
	if err != nil {
		return nil, err
	}
	if r.Tags, err = sliceJSON(m.Tags); err != nil {
		return nil, err
	}
	if r.Metadata, err = mapJSON(m.Metadata); err != nil {
		return nil, err
	}
	if err := r.setDelivery(m); err != nil {
		return nil, err
	}
	r.CreatedAt = ts(m.CreatedAt)
	return r, nil
}

// setDelivery copies the fields that change during delivery.
func (r *messageRow) setDelivery(m *sendoka.Message) error {
	r.Status = string(m.Status)
	r.ClaimedAt = tsPtr(m.ClaimedAt)
	r.LeaseUntil = tsPtr(m.LeaseUntil)
	r.NextRetryAt = tsPtr(m.NextRetryAt)
	r.Outcome = string(m.Outcome)
	r.ScheduledAt = tsPtr(m.ScheduledAt)
	r.JobID = m.JobID
	r.Provider = m.Provider
	r.ProviderMessageID = m.ProviderMessageID
	r.Attempts = m.Attempts
	r.UpdatedAt = ts(m.UpdatedAt)
	r.SentAt = tsPtr(m.SentAt)
	r.CompletedAt = tsPtr(m.CompletedAt)
	var err error
	if r.DeliveryAttempts, err = sliceJSON(m.DeliveryAttempts); err != nil {
		return err
	}
	r.Diagnostic, err = toJSON(m.Diagnostic)
	return err
}

func (r *messageRow) message() (*sendoka.Message, error) {
	m := &sendoka.Message{
		ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, KeyID: r.KeyID,
		Channel: sendoka.Channel(r.Channel), Mode: sendoka.Mode(r.Mode), Status: sendoka.Status(r.Status),
		ScheduledAt: r.ScheduledAt.ptr(), JobID: r.JobID, ClaimedAt: r.ClaimedAt.ptr(),
		LeaseUntil: r.LeaseUntil.ptr(), NextRetryAt: r.NextRetryAt.ptr(), Outcome: sendoka.Outcome(r.Outcome),
		Provider: r.Provider, ProviderMessageID: r.ProviderMessageID, Attempts: r.Attempts,
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time,
		SentAt: r.SentAt.ptr(), CompletedAt: r.CompletedAt.ptr(), ContentPurgedAt: r.ContentPurgedAt.ptr(),
		Stream: r.Stream,
	}
	if r.Content != "" {
		switch m.Channel {
		case sendoka.ChannelSMS:
			m.SMS = new(sendoka.SMSContent)
			if err := fromJSON(r.Content, m.SMS); err != nil {
				return nil, err
			}
		default:
			m.Email = new(sendoka.EmailContent)
			if err := fromJSON(r.Content, m.Email); err != nil {
				return nil, err
			}
		}
	}
	if err := fromJSON(r.Tags, &m.Tags); err != nil {
		return nil, err
	}
	if err := fromJSON(r.Metadata, &m.Metadata); err != nil {
		return nil, err
	}
	if err := fromJSON(r.DeliveryAttempts, &m.DeliveryAttempts); err != nil {
		return nil, err
	}
	if r.Diagnostic != "" {
		m.Diagnostic = new(sendoka.Diagnostic)
		if err := fromJSON(r.Diagnostic, m.Diagnostic); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// messagesOf turns rows into messages.
func messagesOf(rows []messageRow) ([]*sendoka.Message, error) {
	out := make([]*sendoka.Message, 0, len(rows))
	for i := range rows {
		m, err := rows[i].message()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

type messageTagRow struct {
	bun.BaseModel `bun:"table:message_tags,alias:t"`

	MessageID string `bun:"message_id,pk"`
	Position  int    `bun:"position,pk"`
	OrgID     string `bun:"org_id"`
	TenantID  string `bun:"tenant_id,nullzero"`
	Tag       string `bun:"tag"`
}

// messageTagColumns are the columns of messageTagRow in values order.
var messageTagColumns = []string{"message_id", "position", "org_id", "tenant_id", "tag"}

func (r *messageTagRow) values() []any {
	return []any{r.MessageID, r.Position, r.OrgID, nullString(r.TenantID), r.Tag}
}

type eventRow struct {
	bun.BaseModel `bun:"table:events,alias:e"`

	ID         string    `bun:"id,pk"`
	OrgID      string    `bun:"org_id"`
	TenantID   string    `bun:"tenant_id,nullzero"`
	MessageID  string    `bun:"message_id"`
	Type       string    `bun:"type"`
	Status     string    `bun:"status"`
	Recipient  string    `bun:"recipient"`
	Diagnostic string    `bun:"diagnostic,nullzero"`
	Data       string    `bun:"data,nullzero"`
	CreatedAt  timestamp `bun:"created_at"`
}

// eventColumns are the columns of eventRow in values order.
var eventColumns = []string{
	"id", "org_id", "tenant_id", "message_id", "type", "status", "recipient", "diagnostic",
	"data", "created_at",
}

func (r *eventRow) values() []any {
	return []any{
		r.ID, r.OrgID, nullString(r.TenantID), r.MessageID, r.Type, r.Status, r.Recipient,
		nullString(r.Diagnostic), nullString(r.Data), r.CreatedAt,
	}
}

func newEventRow(e *sendoka.Event) (*eventRow, error) {
	r := &eventRow{
		ID: e.ID, OrgID: e.OrgID, TenantID: e.TenantID, MessageID: e.MessageID,
		Type: string(e.Type), Status: string(e.Status), Recipient: e.Recipient,
		CreatedAt: ts(e.CreatedAt),
	}
	var err error
	if r.Diagnostic, err = toJSON(e.Diagnostic); err != nil {
		return nil, err
	}
	if r.Data, err = mapJSON(e.Data); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *eventRow) event() (sendoka.Event, error) {
	e := sendoka.Event{
		ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, MessageID: r.MessageID,
		Type: sendoka.EventType(r.Type), Status: sendoka.Status(r.Status), Recipient: r.Recipient,
		CreatedAt: r.CreatedAt.Time,
	}
	if r.Diagnostic != "" {
		e.Diagnostic = new(sendoka.Diagnostic)
		if err := fromJSON(r.Diagnostic, e.Diagnostic); err != nil {
			return e, err
		}
	}
	if err := fromJSON(r.Data, &e.Data); err != nil {
		return e, err
	}
	return e, nil
}
