package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/sendoka/sendoka/sendoka"
)

// scoped adds the scope filter: the org always, the tenant only when the scope names one.
func scoped(q *bun.SelectQuery, alias string, scope sendoka.Scope) *bun.SelectQuery {
	q = q.Where("?.org_id = ?", bun.Ident(alias), scope.OrgID)
	if scope.TenantID != "" {
		q = q.Where("?.tenant_id = ?", bun.Ident(alias), scope.TenantID)
	}
	return q
}

// scopedMessages is scoped for the messages table, whose rows also have a mode: a scope with
// a mode sees only messages of that mode.
func scopedMessages(q *bun.SelectQuery, scope sendoka.Scope) *bun.SelectQuery {
	q = scoped(q, "m", scope)
	if scope.Mode != "" {
		q = q.Where("m.mode = ?", scope.Mode)
	}
	return q
}

// GetMessage returns a message in scope, or CodeNotFound.
func (db *DB) GetMessage(ctx context.Context, scope sendoka.Scope, id string) (_ *sendoka.Message, err error) {
	defer classify(ctx, &err)
	return getMessage(ctx, db.bun, &scope, id)
}

// getMessage reads one message; a nil scope means any scope (workers).
func getMessage(ctx context.Context, idb bun.IDB, scope *sendoka.Scope, id string) (*sendoka.Message, error) {
	var row messageRow
	q := idb.NewSelect().Model(&row).Where("m.id = ?", id)
	if scope != nil {
		q = scopedMessages(q, *scope)
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("message")
		}
		return nil, err
	}
	return row.message()
}

// ClaimUnclaimed claims the messages of claims that are queued or scheduled, unclaimed, and
// of their claim's job (or of none), in one statement that commits on its own (an UPDATE
// joined to a VALUES list of ids and jobs), and returns those it claimed, as claimed.
func (db *DB) ClaimUnclaimed(ctx context.Context, claims []sendoka.Claim, at, until time.Time) (_ []*sendoka.Message, err error) {
	defer classify(ctx, &err)
	if len(claims) == 0 {
		return nil, nil
	}
	pg := db.dialect == DialectPostgres
	var b strings.Builder
	args := make([]any, 0, 2*len(claims)+4)
	b.WriteString("WITH v(id, job_id) AS (VALUES ")
	for i, c := range claims {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, CAST(? AS bigint))")
		args = append(args, c.MessageID, c.JobID)
	}
	b.WriteString(") UPDATE messages SET claimed_at = ?, lease_until = ? FROM v " +
		"WHERE messages.id = v.id AND messages.status IN (?, ?) AND messages.claimed_at IS NULL " +
		"AND (messages.job_id = v.job_id OR messages.job_id = 0) RETURNING ")
	for i, col := range messageColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("messages." + col)
	}
	args = append(args, ts(at), ts(until), string(sendoka.StatusQueued), string(sendoka.StatusScheduled))
	rows, err := db.bun.DB.QueryContext(ctx, bindVars(pg, b.String()), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*sendoka.Message
	for rows.Next() {
		var row messageRow
		if err := rows.Scan(row.scanDest()...); err != nil {
			return nil, err
		}
		m, err := row.message()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// ListMessages returns one page of messages in scope, newest first.
func (db *DB) ListMessages(ctx context.Context, scope sendoka.Scope, mq sendoka.MessageQuery) (_ *sendoka.MessagePage, err error) {
	defer classify(ctx, &err)
	limit := mq.Limit
	if limit <= 0 {
		limit = sendoka.DefaultListLimit
	}
	var rows []messageRow
	q := scopedMessages(db.bun.NewSelect().Model(&rows), scope)
	if mq.Channel != "" {
		q = q.Where("m.channel = ?", mq.Channel)
	}
	if mq.Status != "" {
		q = q.Where("m.status = ?", mq.Status)
	}
	if mq.Tag != "" {
		q = q.Where("EXISTS (SELECT 1 FROM message_tags AS t WHERE t.message_id = m.id AND t.tag = ?)", mq.Tag)
	}
	if mq.Recipient != "" {
		q = q.Where("LOWER(m.recipient) = ?", mq.Recipient)
	}
	switch mq.Stream {
	case sendoka.StreamTransactional:
		q = q.Where("m.stream IS NULL")
	case sendoka.StreamBroadcast:
		q = q.Where("m.stream = ?", mq.Stream)
	}
	if mq.CreatedAfter != nil {
		q = q.Where("m.created_at >= ?", ts(*mq.CreatedAfter))
	}
	if mq.CreatedBefore != nil {
		q = q.Where("m.created_at < ?", ts(*mq.CreatedBefore))
	}
	if c := mq.After; c != nil {
		// (created_at, id) < (c.CreatedAt, c.ID), written so that both databases can use the
		// first half as an index range: row-value comparisons are not portable index quals.
		at := ts(c.CreatedAt)
		q = q.Where("m.created_at <= ?", at).
			Where("(m.created_at < ? OR m.id < ?)", at, c.ID)
	}
	// One extra row tells whether another page follows.
	q = q.OrderExpr("m.created_at DESC, m.id DESC").Limit(int64(limit + 1))
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	page := &sendoka.MessagePage{Messages: make([]*sendoka.Message, 0, min(len(rows), limit))}
	if len(rows) > limit {
		page.HasMore = true
		rows = rows[:limit]
	}
	for i := range rows {
		m, err := rows[i].message()
		if err != nil {
			return nil, err
		}
		page.Messages = append(page.Messages, m)
	}
	return page, nil
}

// ListEvents returns a message's events in scope, oldest first. Events carry their message's
// org and tenant, so the scope filters them directly.
func (db *DB) ListEvents(ctx context.Context, scope sendoka.Scope, messageID string) (_ []sendoka.Event, err error) {
	defer classify(ctx, &err)
	var rows []eventRow
	q := scoped(db.bun.NewSelect().Model(&rows), "e", scope).
		Where("e.message_id = ?", messageID)
	if scope.Mode != "" {
		// Events have no mode of their own: their message's decides.
		q = q.Where("EXISTS (SELECT 1 FROM messages AS em WHERE em.id = e.message_id AND em.mode = ?)", scope.Mode)
	}
	q = q.
		OrderExpr("e.created_at ASC, e.id ASC")
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]sendoka.Event, 0, len(rows))
	for i := range rows {
		e, err := rows[i].event()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// ListOrgs returns every org, oldest first.
func (db *DB) ListOrgs(ctx context.Context) (_ []*sendoka.Org, err error) {
	defer classify(ctx, &err)
	var rows []orgRow
	if err := db.bun.NewSelect().Model(&rows).OrderExpr("o.created_at ASC, o.id ASC").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*sendoka.Org, 0, len(rows))
	for i := range rows {
		out = append(out, rows[i].org())
	}
	return out, nil
}
