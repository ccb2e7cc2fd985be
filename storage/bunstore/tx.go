package bunstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/sendoka/sendoka/sendoka"
)

// Tx is one open transaction of a DB, handed to the InTx callback.
type Tx struct {
	tx bun.Tx
	// observeInsert is the DB's (see DB.observeInsert).
	observeInsert func(query string, args []any)
}

var _ sendoka.Tx = (*Tx)(nil)

// SQLTx returns the database/sql transaction underneath, so the queue can insert its jobs in
// the same transaction (River's InsertTx).
func (t *Tx) SQLTx() *sql.Tx { return t.tx.Tx }

// Bun returns the Bun transaction, for code that runs its own queries in it.
func (t *Tx) Bun() bun.Tx { return t.tx }

// InsertOrg inserts an org. A duplicate id is CodeConflict.
func (t *Tx) InsertOrg(ctx context.Context, org *sendoka.Org) error {
	row := newOrgRow(org)
	_, err := t.tx.NewInsert().Model(row).Returning("NULL").Exec(ctx)
	return conflict(err, "org")
}

// InsertMessages inserts messages and their tags with multi-row INSERTs of bound values.
func (t *Tx) InsertMessages(ctx context.Context, msgs ...*sendoka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	rows := make([][]any, 0, len(msgs))
	var tags [][]any
	for _, m := range msgs {
		r, err := newMessageRow(m)
		if err != nil {
			return err
		}
		rows = append(rows, r.values())
		for i, tag := range m.Tags {
			tr := messageTagRow{MessageID: m.ID, Position: i, OrgID: m.OrgID, TenantID: m.TenantID, Tag: tag}
			tags = append(tags, tr.values())
		}
	}
	if err := t.insertValues(ctx, "messages", messageColumns, rows); err != nil {
		return conflict(err, "message")
	}
	if err := t.insertValues(ctx, "message_tags", messageTagColumns, tags); err != nil {
		return conflict(err, "message tag")
	}
	return t.insertAttachments(ctx, msgs) // email.go
}

// InsertEvents appends events with multi-row INSERTs.
func (t *Tx) InsertEvents(ctx context.Context, events ...*sendoka.Event) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([][]any, 0, len(events))
	for _, e := range events {
		r, err := newEventRow(e)
		if err != nil {
			return err
		}
		rows = append(rows, r.values())
	}
	return conflict(t.insertValues(ctx, "events", eventColumns, rows), "event")
}

// GetMessage returns a message whatever its scope, or CodeNotFound.
func (t *Tx) GetMessage(ctx context.Context, id string) (*sendoka.Message, error) {
	return getMessage(ctx, t.tx, nil, id)
}

// ClaimMessage sets claimed_at and lease_until in one conditional UPDATE: of two concurrent
// claims the database lets exactly one change the row, and the other sees no row affected.
func (t *Tx) ClaimMessage(ctx context.Context, id string, at, until time.Time, from ...sendoka.Status) (bool, error) {
	if len(from) == 0 {
		return false, nil
	}
	res, err := t.tx.NewUpdate().Model((*messageRow)(nil)).
		Set("claimed_at = ?", ts(at)).Set("lease_until = ?", ts(until)).
		Where("id = ?", id).Where("status IN (?)", bun.In(from)).
		Where("(claimed_at IS NULL OR lease_until < ?)", ts(at)).
		Exec(ctx)
	return affected(res, err)
}

// RenewClaim extends the lease of the claim taken at claimedAt, if it still holds.
func (t *Tx) RenewClaim(ctx context.Context, id string, claimedAt, until time.Time) (bool, error) {
	res, err := t.tx.NewUpdate().Model((*messageRow)(nil)).
		Set("lease_until = ?", ts(until)).
		Where("id = ?", id).Where("claimed_at = ?", ts(claimedAt)).
		Where("status IN (?)", bun.In([]sendoka.Status{sendoka.StatusQueued, sendoka.StatusScheduled})).
		Exec(ctx)
	return affected(res, err)
}

// LapsedClaims returns queued or scheduled messages whose claim lapsed before now.
func (t *Tx) LapsedClaims(ctx context.Context, now time.Time, limit int) ([]*sendoka.Message, error) {
	var rows []messageRow
	err := t.tx.NewSelect().Model(&rows).
		Where("claimed_at IS NOT NULL").Where("lease_until < ?", ts(now)).
		Where("status IN (?)", bun.In([]sendoka.Status{sendoka.StatusQueued, sendoka.StatusScheduled})).
		OrderExpr("lease_until ASC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, err
	}
	return messagesOf(rows)
}

// UpdateMessage writes the delivery fields in one UPDATE conditional on the stored status.
func (t *Tx) UpdateMessage(ctx context.Context, m *sendoka.Message, from ...sendoka.Status) (bool, error) {
	if len(from) == 0 {
		return false, nil
	}
	row := &messageRow{ID: m.ID}
	if err := row.setDelivery(m); err != nil {
		return false, err
	}
	// Bound values: one statement text per number of from statuses, prepared once.
	q := bindVars(t.tx.Dialect().Name() == dialect.PG, "UPDATE messages SET "+
		strings.Join(deliveryColumns, " = ?, ")+" = ? WHERE id = ? AND status IN ("+placeholders(len(from))+")")
	args := append(row.deliveryValues(), m.ID)
	for _, f := range from {
		args = append(args, string(f))
	}
	res, err := t.tx.Tx.ExecContext(ctx, q, args...)
	return affected(res, err)
}

// UpdateMessages writes many messages' delivery fields, each if its stored status is its
// update's From, in one statement per statementSizes chunk, and returns how many it wrote.
func (t *Tx) UpdateMessages(ctx context.Context, updates []sendoka.MessageUpdate) (int, error) {
	pg := t.tx.Dialect().Name() == dialect.PG
	cols := len(deliveryColumns) + 2
	rows := make([][]any, 0, len(updates))
	for _, u := range updates {
		row := &messageRow{ID: u.Message.ID}
		if err := row.setDelivery(u.Message); err != nil {
			return 0, err
		}
		rows = append(rows, append([]any{u.Message.ID, string(u.From)}, row.deliveryValues()...))
	}
	written := 0
	for len(rows) > 0 {
		n := statementSizes(rows, cols)[0]
		args := make([]any, 0, n*cols)
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		res, err := t.tx.Tx.ExecContext(ctx, updateMessagesSQL(n, pg), args...)
		if err != nil {
			return written, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return written, err
		}
		written += int(k)
		rows = rows[n:]
	}
	return written, nil
}

// deliveryTypes are the Postgres types of deliveryColumns, in order: Postgres types a VALUES
// column from its first row, so each value is cast there.
var deliveryTypes = []string{
	"text", "timestamptz", "timestamptz", "timestamptz", "bigint", "text",
	"text", "jsonb", "text", "integer", "jsonb",
	"timestamptz", "timestamptz", "timestamptz", "timestamptz",
}

// updateMessagesSQL is the UPDATE of n messages: the table joined to a named VALUES list of
// (id, from status, delivery columns...), which both databases understand (SQLite since 3.33).
func updateMessagesSQL(n int, pg bool) string {
	var row strings.Builder
	row.WriteString("(?, ?")
	for _, typ := range deliveryTypes {
		if pg {
			row.WriteString(", CAST(? AS " + typ + ")")
		} else {
			row.WriteString(", ?")
		}
	}
	row.WriteString(")")
	var b strings.Builder
	b.WriteString("WITH v(id, from_status, " + strings.Join(deliveryColumns, ", ") + ") AS (VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row.String())
	}
	b.WriteString(") UPDATE messages SET ")
	for i, col := range deliveryColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(col + " = v." + col)
	}
	b.WriteString(" FROM v WHERE messages.id = v.id AND messages.status = v.from_status")
	return bindVars(pg, b.String())
}

func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}
