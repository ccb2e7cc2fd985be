package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/sendoka/sendoka/sendoka"
)

// cursorRow is a named position of a periodic scan (sendoka.RetentionStore's cursors).
type cursorRow struct {
	bun.BaseModel `bun:"table:scan_cursors"`

	Name      string    `bun:"name,pk"`
	Value     string    `bun:"value"`
	UpdatedAt timestamp `bun:"updated_at"`
}

// MessagesCreatedBefore returns messages after after and before beforeID, in id order: a
// range of the primary key, whatever the scope.
func (db *DB) MessagesCreatedBefore(ctx context.Context, after, beforeID string, limit int) (_ []*sendoka.Message, err error) {
	defer classify(ctx, &err)
	var rows []messageRow
	if err := db.bun.NewSelect().Model(&rows).
		Where("m.id > ?", after).Where("m.id < ?", beforeID).
		OrderExpr("m.id ASC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*sendoka.Message, len(rows))
	for i := range rows {
		if out[i], err = rows[i].message(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PurgeContent writes the blanked content of msgs and drops their attachments' bytes, in
// one transaction.
func (db *DB) PurgeContent(ctx context.Context, msgs []*sendoka.Message, at time.Time) (err error) {
	defer classify(ctx, &err)
	if len(msgs) == 0 {
		return nil
	}
	return db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID
			row, err := newMessageRow(m)
			if err != nil {
				return err
			}
			if _, err := tx.NewUpdate().Model((*messageRow)(nil)).
				Set("content = ?", nullString(row.Content)).Set("content_purged_at = ?", ts(at)).
				Where("id = ?", m.ID).Exec(ctx); err != nil {
				return err
			}
		}
		_, err := tx.NewDelete().TableExpr("message_attachments").Where("message_id IN (?)", bun.In(ids)).Exec(ctx)
		return err
	})
}

// DeleteMessagesBefore deletes the oldest messages before beforeID; their events, tags,
// attachments and links go with them (ON DELETE CASCADE).
func (db *DB) DeleteMessagesBefore(ctx context.Context, beforeID string, limit int) (_ int, err error) {
	defer classify(ctx, &err)
	sub := db.bun.NewSelect().TableExpr("messages").Column("id").
		Where("id < ?", beforeID).OrderExpr("id ASC").Limit(int64(limit))
	res, err := db.bun.NewDelete().TableExpr("messages").Where("id IN (?)", sub).Exec(ctx)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// GetCursor returns a scan's position, "" before its first run.
func (db *DB) GetCursor(ctx context.Context, name string) (_ string, err error) {
	defer classify(ctx, &err)
	var row cursorRow
	if err := db.bun.NewSelect().Model(&row).Where("name = ?", name).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return "", err
	}
	return row.Value, nil
}

// SetCursor records a scan's position.
func (db *DB) SetCursor(ctx context.Context, name, value string, at time.Time) (err error) {
	defer classify(ctx, &err)
	row := cursorRow{Name: name, Value: value, UpdatedAt: ts(at)}
	_, err = db.bun.NewInsert().Model(&row).
		On("CONFLICT (name) DO UPDATE").Set("value = EXCLUDED.value").Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx)
	return err
}
