package bunstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/sendoka/sendoka/sendoka"
)

type messageRecipientRow struct {
	bun.BaseModel `bun:"table:message_recipients,alias:mr"`

	MessageID  string    `bun:"message_id,pk"`
	Address    string    `bun:"address,pk"`
	Status     string    `bun:"status"`
	Diagnostic string    `bun:"diagnostic,nullzero"`
	UpdatedAt  timestamp `bun:"updated_at"`
}

type providerNotificationRow struct {
	bun.BaseModel `bun:"table:provider_notifications,alias:pn"`

	ID         string    `bun:"id,pk"`
	ReceivedAt timestamp `bun:"received_at"`
}

func recipientsOf(rows []messageRecipientRow) ([]sendoka.MessageRecipient, error) {
	out := make([]sendoka.MessageRecipient, len(rows))
	for i, r := range rows {
		out[i] = sendoka.MessageRecipient{MessageID: r.MessageID, Address: r.Address,
			Status: sendoka.RecipientStatus(r.Status), UpdatedAt: r.UpdatedAt.Time}
		if r.Diagnostic != "" {
			out[i].Diagnostic = &sendoka.Diagnostic{}
			if err := fromJSON(r.Diagnostic, out[i].Diagnostic); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// ListMessageRecipients returns the per-recipient outcomes of a message in scope.
func (db *DB) ListMessageRecipients(ctx context.Context, scope sendoka.Scope, messageID string) (_ []sendoka.MessageRecipient, err error) {
	defer classify(ctx, &err)
	var rows []messageRecipientRow
	// The rows carry no scope of their own: their message's decides.
	sub := scopedMessages(db.bun.NewSelect().TableExpr("messages AS m").Column("m.id"), scope).Where("m.id = ?", messageID)
	q := db.bun.NewSelect().Model(&rows).Where("mr.message_id = ?", messageID).
		Where("EXISTS (?)", sub).OrderExpr("mr.address ASC")
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	return recipientsOf(rows)
}

// ListMessageRecipients returns the per-recipient outcomes of a message, whatever its scope.
func (t *Tx) ListMessageRecipients(ctx context.Context, messageID string) ([]sendoka.MessageRecipient, error) {
	var rows []messageRecipientRow
	if err := t.tx.NewSelect().Model(&rows).Where("mr.message_id = ?", messageID).OrderExpr("mr.address ASC").Scan(ctx); err != nil {
		return nil, err
	}
	return recipientsOf(rows)
}

// PutMessageRecipient inserts or replaces one recipient's outcome.
func (t *Tx) PutMessageRecipient(ctx context.Context, r *sendoka.MessageRecipient) error {
	diag, err := toJSON(r.Diagnostic)
	if err != nil {
		return err
	}
	row := &messageRecipientRow{MessageID: r.MessageID, Address: r.Address, Status: string(r.Status), Diagnostic: diag, UpdatedAt: ts(r.UpdatedAt)}
	_, err = t.tx.NewInsert().Model(row).
		On("CONFLICT (message_id, address) DO UPDATE").
		Set("status = EXCLUDED.status").Set("diagnostic = EXCLUDED.diagnostic").Set("updated_at = EXCLUDED.updated_at").
		Returning("NULL").Exec(ctx)
	return err
}

// MarkNotification records a provider notification id, once.
func (t *Tx) MarkNotification(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := t.tx.NewInsert().Model(&providerNotificationRow{ID: id, ReceivedAt: ts(at)}).
		On("CONFLICT DO NOTHING").Returning("NULL").Exec(ctx)
	return affected(res, err)
}

// MessagesByProviderID returns the messages a provider knows by an id, oldest first.
func (t *Tx) MessagesByProviderID(ctx context.Context, providerMessageID string) ([]*sendoka.Message, error) {
	if providerMessageID == "" {
		return nil, nil
	}
	var rows []messageRow
	if err := t.tx.NewSelect().Model(&rows).Where("m.provider_message_id = ?", providerMessageID).
		OrderExpr("m.created_at ASC, m.id ASC").Limit(10).Scan(ctx); err != nil {
		return nil, err
	}
	return messagesOf(rows)
}

// PruneNotifications deletes at most limit notification ids received before before.
func (t *Tx) PruneNotifications(ctx context.Context, before time.Time, limit int) (int, error) {
	sub := t.tx.NewSelect().Model((*providerNotificationRow)(nil)).Column("pn.id").
		Where("pn.received_at < ?", ts(before)).Limit(int64(limit))
	res, err := t.tx.NewDelete().TableExpr("provider_notifications").Where("id IN (?)", sub).Exec(ctx)
	return rowsAffected(res, err)
}
