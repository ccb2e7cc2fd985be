package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/sendoka/sendoka/sendoka"
)

var (
	_ sendoka.EmailStore = (*DB)(nil)
	_ sendoka.EmailTx    = (*Tx)(nil)
)

type attachmentRow struct {
	bun.BaseModel `bun:"table:message_attachments,alias:ma"`

	MessageID string `bun:"message_id,pk"`
	Position  int    `bun:"position,pk"`
	Content   []byte `bun:"content"`
}

type linkRow struct {
	bun.BaseModel `bun:"table:message_links,alias:ml"`

	MessageID string    `bun:"message_id,pk"`
	Position  int       `bun:"position,pk"`
	URL       string    `bun:"url"`
	CreatedAt timestamp `bun:"created_at"`
}

type secretRow struct {
	bun.BaseModel `bun:"table:instance_secrets,alias:s"`

	Name      string    `bun:"name,pk"`
	Value     []byte    `bun:"value"`
	CreatedAt timestamp `bun:"created_at"`
}

// insertAttachments stores the contents of the messages' attachments, one statement per
// attachment with the bytes as a bound parameter: Bun would inline them into the SQL text
// (twice their size as hex), and a batch of them could pass the statement size limits.
func (t *Tx) insertAttachments(ctx context.Context, msgs []*sendoka.Message) error {
	query := "INSERT INTO message_attachments (message_id, position, content) VALUES (?, ?, ?)"
	if t.tx.Dialect().Name() == dialect.PG {
		query = "INSERT INTO message_attachments (message_id, position, content) VALUES ($1, $2, $3)"
	}
	for _, m := range msgs {
		if m.Email == nil {
			continue
		}
		for i, a := range m.Email.Attachments {
			content := a.Content
			if content == nil {
				content = []byte{} // NOT NULL: an empty file is still a file
			}
			if _, err := t.tx.Tx.ExecContext(ctx, query, m.ID, i, content); err != nil {
				return conflict(err, "attachment")
			}
		}
	}
	return nil
}

// AttachmentContents returns a message's attachment contents in order.
func (t *Tx) AttachmentContents(ctx context.Context, messageID string) ([][]byte, error) {
	var rows []attachmentRow
	if err := t.tx.NewSelect().Model(&rows).Where("ma.message_id = ?", messageID).
		OrderExpr("ma.position ASC").Scan(ctx); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	out := make([][]byte, len(rows))
	for i := range rows {
		out[i] = rows[i].Content
	}
	return out, nil
}

// InsertLinks stores tracked links, leaving those already stored as they are.
func (t *Tx) InsertLinks(ctx context.Context, links ...*sendoka.Link) error {
	if len(links) == 0 {
		return nil
	}
	rows := make([][]any, len(links))
	for i, l := range links {
		rows[i] = []any{l.MessageID, l.Position, l.URL, ts(l.CreatedAt)}
	}
	return t.insertValuesOn(ctx, "message_links", []string{"message_id", "position", "url", "created_at"},
		rows, "ON CONFLICT (message_id, position) DO NOTHING")
}

// CountEvents counts a message's events of the given types.
func (t *Tx) CountEvents(ctx context.Context, messageID string, types ...sendoka.EventType) (int, error) {
	q := t.tx.NewSelect().Model((*eventRow)(nil)).Where("e.message_id = ?", messageID)
	if len(types) > 0 {
		q = q.Where("e.type IN (?)", bun.In(types))
	}
	n, err := q.Count(ctx)
	return int(n), err
}

// GetLink returns a tracked link, or CodeNotFound.
func (db *DB) GetLink(ctx context.Context, messageID string, position int) (_ *sendoka.Link, err error) {
	defer classify(ctx, &err)
	var row linkRow
	err = db.bun.NewSelect().Model(&row).Where("ml.message_id = ?", messageID).
		Where("ml.position = ?", position).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sendoka.NotFound("link")
	}
	if err != nil {
		return nil, err
	}
	return &sendoka.Link{MessageID: row.MessageID, Position: row.Position, URL: row.URL, CreatedAt: row.CreatedAt.Time}, nil
}

// EnsureSecret stores value under name unless a secret is already there, and returns the
// stored one. The insert ignores a conflict, so of concurrent first calls one value wins and
// every caller reads it back.
func (db *DB) EnsureSecret(ctx context.Context, name string, value []byte) (_ []byte, err error) {
	defer classify(ctx, &err)
	row := &secretRow{Name: name, Value: value, CreatedAt: ts(time.Now().UTC().Truncate(time.Microsecond))}
	if _, err := db.bun.NewInsert().Model(row).On("CONFLICT (name) DO NOTHING").Returning("NULL").Exec(ctx); err != nil {
		return nil, err
	}
	var stored secretRow
	if err := db.bun.NewSelect().Model(&stored).Where("s.name = ?", name).Scan(ctx); err != nil {
		return nil, err
	}
	return stored.Value, nil
}
