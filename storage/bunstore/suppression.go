package bunstore

import (
	"context"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/sendoka/sendoka/sendoka"
)

type suppressionRow struct {
	bun.BaseModel `bun:"table:suppressions,alias:su"`

	ID        string    `bun:"id,pk"`
	OrgID     string    `bun:"org_id"`
	TenantID  string    `bun:"tenant_id,nullzero"`
	Channel   string    `bun:"channel"`
	Address   string    `bun:"address"`
	Reason    string    `bun:"reason"`
	MessageID string    `bun:"message_id"`
	CreatedAt timestamp `bun:"created_at"`
}

// GetSuppressions returns the namespace's suppressions of addresses on a channel.
func (db *DB) GetSuppressions(ctx context.Context, orgID, tenantID string, ch sendoka.Channel, addresses []string) (_ []*sendoka.Suppression, err error) {
	defer classify(ctx, &err)
	return getSuppressions(ctx, db.bun.DB, db.dialect == DialectPostgres, orgID, tenantID, ch, addresses)
}

// GetSuppressions returns the namespace's suppressions of addresses on a channel.
func (t *Tx) GetSuppressions(ctx context.Context, orgID, tenantID string, ch sendoka.Channel, addresses []string) ([]*sendoka.Suppression, error) {
	return getSuppressions(ctx, t.tx.Tx, t.tx.Dialect().Name() == dialect.PG, orgID, tenantID, ch, addresses)
}

// suppressionColumns are the columns of suppressionRow, in scanDest order.
var suppressionColumns = []string{"id", "org_id", "tenant_id", "channel", "address", "reason", "message_id", "created_at"}

func (r *suppressionRow) scanDest() []any {
	return []any{&r.ID, &r.OrgID, (*nullString)(&r.TenantID), &r.Channel, &r.Address, &r.Reason, &r.MessageID, &r.CreatedAt}
}

// getSuppressions runs on every send and every delivery: its text depends only on the
// number of addresses, so it is prepared once (boundQuerier).
func getSuppressions(ctx context.Context, qr boundQuerier, pg bool, orgID, tenantID string, ch sendoka.Channel, addresses []string) ([]*sendoka.Suppression, error) {
	out := []*sendoka.Suppression{}
	if len(addresses) == 0 {
		return out, nil
	}
	q := bindVars(pg, "SELECT "+strings.Join(suppressionColumns, ", ")+" FROM suppressions "+
		"WHERE org_id = ? AND COALESCE(tenant_id, '') = ? AND channel = ? AND address IN ("+placeholders(len(addresses))+")")
	args := make([]any, 0, 3+len(addresses))
	args = append(args, orgID, tenantID, string(ch))
	for _, a := range addresses {
		args = append(args, a)
	}
	rows, err := qr.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r suppressionRow
		if err := rows.Scan(r.scanDest()...); err != nil {
			return nil, err
		}
		out = append(out, &sendoka.Suppression{
			ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, Channel: sendoka.Channel(r.Channel),
			Address: r.Address, Reason: sendoka.SuppressionReason(r.Reason), MessageID: r.MessageID,
			CreatedAt: r.CreatedAt.Time,
		})
	}
	return out, rows.Err()
}

// InsertSuppression adds a suppression unless the namespace already has one for the address
// and channel. ON CONFLICT DO NOTHING (no target: the unique index is on an expression) is
// the same statement on both databases, and never aborts a Postgres transaction.
func (t *Tx) InsertSuppression(ctx context.Context, s *sendoka.Suppression) (bool, error) {
	row := &suppressionRow{
		ID: s.ID, OrgID: s.OrgID, TenantID: s.TenantID, Channel: string(s.Channel), Address: s.Address,
		Reason: string(s.Reason), MessageID: s.MessageID, CreatedAt: ts(s.CreatedAt),
	}
	res, err := t.tx.NewInsert().Model(row).On("CONFLICT DO NOTHING").Returning("NULL").Exec(ctx)
	return affected(res, err)
}

// DeleteSuppression lifts the namespace's suppression of an address on a channel.
func (t *Tx) DeleteSuppression(ctx context.Context, orgID, tenantID string, ch sendoka.Channel, address string) (bool, error) {
	q := t.tx.NewDelete().Model((*suppressionRow)(nil)).Where("channel = ?", ch).Where("address = ?", address)
	res, err := inNamespaceOf(q, "", orgID, tenantID).Exec(ctx)
	return affected(res, err)
}
