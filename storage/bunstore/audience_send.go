package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/sendoka/sendoka/sendoka"
)

type audienceSendRow struct {
	bun.BaseModel `bun:"table:audience_sends,alias:asd"`

	ID                  string    `bun:"id,pk"`
	OrgID               string    `bun:"org_id"`
	TenantID            string    `bun:"tenant_id,nullzero"`
	AudienceID          string    `bun:"audience_id"`
	KeyID               string    `bun:"key_id,nullzero"`
	Mode                string    `bun:"mode"`
	Channel             string    `bun:"channel"`
	Request             string    `bun:"request"`
	Recipients          int       `bun:"recipients"`
	SkippedSuppressed   int       `bun:"skipped_suppressed"`
	SkippedUnsubscribed int       `bun:"skipped_unsubscribed"`
	Processed           int       `bun:"processed"`
	Refused             int       `bun:"refused"`
	Cursor              string    `bun:"fanout_cursor"`
	CreatedAt           timestamp `bun:"created_at"`
	FinishedAt          timestamp `bun:"finished_at,nullzero"`
}

func (r *audienceSendRow) send() *sendoka.AudienceSend {
	return &sendoka.AudienceSend{ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, AudienceID: r.AudienceID, KeyID: r.KeyID,
		Mode: sendoka.Mode(r.Mode), Channel: sendoka.Channel(r.Channel), Request: []byte(r.Request),
		Recipients: r.Recipients, SkippedSuppressed: r.SkippedSuppressed, SkippedUnsubscribed: r.SkippedUnsubscribed,
		Processed: r.Processed, Refused: r.Refused, Cursor: r.Cursor, CreatedAt: r.CreatedAt.Time, FinishedAt: r.FinishedAt.ptr()}
}

// recipientColumns are the columns InsertAudienceSend writes per recipient.
var recipientColumns = []string{"send_id", "contact_id", "address"}

// AudienceRecipients returns the audience's contacts with an address on the channel.
func (db *DB) AudienceRecipients(ctx context.Context, audienceID string, ch sendoka.Channel, limit int) (_ []sendoka.AudienceRecipient, err error) {
	defer classify(ctx, &err)
	col := "email"
	if ch == sendoka.ChannelSMS {
		col = "phone"
	}
	rows, err := db.bun.DB.QueryContext(ctx, bindVars(db.bun.Dialect().Name() == dialect.PG,
		"SELECT id, "+col+", unsubscribed_at IS NOT NULL FROM audience_contacts WHERE audience_id = ? AND "+col+" IS NOT NULL ORDER BY id LIMIT ?"),
		audienceID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sendoka.AudienceRecipient
	for rows.Next() {
		var r sendoka.AudienceRecipient
		if err := rows.Scan(&r.ContactID, &r.Address, &r.Unsubscribed); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// GetAudienceSend returns a send of an audience of the scope's namespace: sendID, or the
// latest.
func (db *DB) GetAudienceSend(ctx context.Context, scope sendoka.Scope, audienceID, sendID string) (_ *sendoka.AudienceSend, err error) {
	defer classify(ctx, &err)
	var row audienceSendRow
	q := inNamespace(db.bun.NewSelect().Model(&row), "asd.", scope).Where("asd.audience_id = ?", audienceID)
	if sendID != "" {
		q = q.Where("asd.id = ?", sendID)
	}
	if err := q.OrderExpr("asd.created_at DESC, asd.id DESC").Limit(1).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("audience send")
		}
		return nil, err
	}
	return row.send(), nil
}

// GetAudienceSendByID returns a send by id.
func (db *DB) GetAudienceSendByID(ctx context.Context, id string) (_ *sendoka.AudienceSend, err error) {
	defer classify(ctx, &err)
	var row audienceSendRow
	if err := db.bun.NewSelect().Model(&row).Where("asd.id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("audience send")
		}
		return nil, err
	}
	return row.send(), nil
}

// UnfinishedAudienceSends returns the sends whose fan-out has not finished, oldest first.
// The table holds a row per send, few unfinished at any time: recovery reads it every few
// seconds on one node.
func (db *DB) UnfinishedAudienceSends(ctx context.Context, limit int) (_ []*sendoka.AudienceSend, err error) {
	defer classify(ctx, &err)
	var rows []audienceSendRow
	if err := db.bun.NewSelect().Model(&rows).Where("asd.finished_at IS NULL").
		OrderExpr("asd.created_at, asd.id").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*sendoka.AudienceSend, len(rows))
	for i := range rows {
		out[i] = rows[i].send()
	}
	return out, nil
}

// AudienceSendStatuses counts a send's messages by status.
func (db *DB) AudienceSendStatuses(ctx context.Context, sendID string) (_ map[sendoka.Status]int, err error) {
	defer classify(ctx, &err)
	var rows []struct {
		Status string `bun:"status"`
		N      int    `bun:"n"`
	}
	err = db.bun.NewSelect().TableExpr("audience_send_recipients AS r").Join("JOIN messages AS m ON m.id = r.message_id").
		ColumnExpr("m.status AS status").ColumnExpr("COUNT(*) AS n").Where("r.send_id = ?", sendID).
		GroupExpr("m.status").Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	out := map[sendoka.Status]int{}
	for _, r := range rows {
		out[sendoka.Status(r.Status)] = r.N
	}
	return out, nil
}

// PendingRecipients returns the send's recipients after a contact id, with their contacts.
func (db *DB) PendingRecipients(ctx context.Context, sendID, after string, limit int) (_ []sendoka.PendingRecipient, err error) {
	defer classify(ctx, &err)
	// The chunk is picked before the join: right after a send's recipients are written the
	// planner's statistics still see an empty table, and with the join first it would look up
	// every remaining contact to keep fanoutChunk of them.
	q := "SELECT r.contact_id, r.address, ac.id, ac.audience_id, ac.email, ac.phone, ac.first_name, ac.last_name, ac.data, " +
		"ac.unsubscribed_at, ac.created_at, ac.updated_at FROM (SELECT contact_id, address FROM audience_send_recipients " +
		"WHERE send_id = ? AND contact_id > ? ORDER BY contact_id LIMIT ?) r " +
		"LEFT JOIN audience_contacts ac ON ac.id = r.contact_id ORDER BY r.contact_id"
	rows, err := db.bun.DB.QueryContext(ctx, bindVars(db.bun.Dialect().Name() == dialect.PG, q), sendID, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sendoka.PendingRecipient
	for rows.Next() {
		var p sendoka.PendingRecipient
		var c contactRow
		if err := rows.Scan(&p.ContactID, &p.Address, (*nullString)(&c.ID), (*nullString)(&c.AudienceID), (*nullString)(&c.Email),
			(*nullString)(&c.Phone), (*nullString)(&c.FirstName), (*nullString)(&c.LastName), (*nullString)(&c.Data),
			&c.UnsubscribedAt, &c.CreatedAt, &c.UpdatedAt); err != nil {
			return nil, err
		}
		if c.ID != "" {
			if p.Contact, err = c.contact(); err != nil {
				return nil, err
			}
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// GetContact returns a contact of an audience.
func (db *DB) GetContact(ctx context.Context, audienceID, contactID string) (_ *sendoka.Contact, err error) {
	defer classify(ctx, &err)
	var row contactRow
	if err := db.bun.NewSelect().Model(&row).Where("ac.id = ?", contactID).Where("ac.audience_id = ?", audienceID).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("contact")
		}
		return nil, err
	}
	return row.contact()
}

// GetAudienceByID returns an audience by id, whatever its namespace.
func (db *DB) GetAudienceByID(ctx context.Context, id string) (_ *sendoka.Audience, err error) {
	defer classify(ctx, &err)
	var row audienceRow
	if err := db.bun.NewSelect().Model(&row).Where("au.id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("audience")
		}
		return nil, err
	}
	return row.audience(), nil
}

// InsertAudienceSend inserts a send and its recipients.
func (t *Tx) InsertAudienceSend(ctx context.Context, s *sendoka.AudienceSend, recipients []sendoka.AudienceRecipient) error {
	row := &audienceSendRow{ID: s.ID, OrgID: s.OrgID, TenantID: s.TenantID, AudienceID: s.AudienceID, KeyID: s.KeyID,
		Mode: string(s.Mode), Channel: string(s.Channel), Request: string(s.Request), Recipients: s.Recipients,
		SkippedSuppressed: s.SkippedSuppressed, SkippedUnsubscribed: s.SkippedUnsubscribed, Processed: s.Processed,
		Refused: s.Refused, Cursor: s.Cursor, CreatedAt: ts(s.CreatedAt), FinishedAt: tsPtr(s.FinishedAt)}
	if _, err := t.tx.NewInsert().Model(row).Returning("NULL").Exec(ctx); err != nil {
		return conflict(err, "audience send")
	}
	rows := make([][]any, len(recipients))
	for i, r := range recipients {
		rows[i] = []any{s.ID, r.ContactID, r.Address}
	}
	return t.insertValues(ctx, "audience_send_recipients", recipientColumns, rows)
}

// outcomeChunk bounds the recipients one outcome UPDATE names.
const outcomeChunk = 500

// AdvanceAudienceSend records a chunk of the fan-out if the send's cursor is still from.
func (t *Tx) AdvanceAudienceSend(ctx context.Context, s *sendoka.AudienceSend, from string, outcomes []sendoka.RecipientOutcome) (bool, error) {
	ok, err := affected(t.tx.NewUpdate().Table("audience_sends").Set("fanout_cursor = ?", s.Cursor).
		Set("processed = ?", s.Processed).Set("refused = ?", s.Refused).Set("finished_at = ?", tsPtr(s.FinishedAt)).
		Where("id = ?", s.ID).Where("fanout_cursor = ?", from).Exec(ctx))
	if err != nil || !ok {
		return false, err
	}
	pg := t.tx.Dialect().Name() == dialect.PG
	for start := 0; start < len(outcomes); start += outcomeChunk {
		chunk := outcomes[start:min(start+outcomeChunk, len(outcomes))]
		var b strings.Builder
		args := make([]any, 0, 3*len(chunk)+1)
		b.WriteString("WITH v(contact_id, message_id, error) AS (VALUES ")
		for i, o := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, CAST(? AS TEXT), CAST(? AS TEXT))")
			args = append(args, o.ContactID, nullString(o.MessageID), nullString(o.Error))
		}
		b.WriteString(") UPDATE audience_send_recipients SET message_id = v.message_id, error = v.error FROM v " +
			"WHERE audience_send_recipients.send_id = ? AND audience_send_recipients.contact_id = v.contact_id")
		args = append(args, s.ID)
		if _, err := t.tx.Tx.ExecContext(ctx, bindVars(pg, b.String()), args...); err != nil {
			return false, err
		}
	}
	return true, nil
}

// UnsubscribeContact marks a contact unsubscribed, once.
func (t *Tx) UnsubscribeContact(ctx context.Context, audienceID, contactID string, at time.Time) (*sendoka.Contact, error) {
	if _, err := t.tx.NewUpdate().Table("audience_contacts").Set("unsubscribed_at = ?", ts(at)).Set("updated_at = ?", ts(at)).
		Where("id = ?", contactID).Where("audience_id = ?", audienceID).Where("unsubscribed_at IS NULL").Exec(ctx); err != nil {
		return nil, err
	}
	var row contactRow
	if err := t.tx.NewSelect().Model(&row).Where("ac.id = ?", contactID).Where("ac.audience_id = ?", audienceID).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("contact")
		}
		return nil, err
	}
	return row.contact()
}
