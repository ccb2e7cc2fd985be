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

type suppressionRow struct {
	bun.BaseModel `bun:"table:suppressions,alias:su"`

	ID        string    `bun:"id,pk"`
	OrgID     string    `bun:"org_id"`
	TenantID  string    `bun:"tenant_id,nullzero"`
	Channel   string    `bun:"channel"`
	Address   string    `bun:"address"`
	Reason    string    `bun:"reason"`
	MessageID string    `bun:"message_id"`
	CreatedBy string    `bun:"created_by"`
	CreatedAt timestamp `bun:"created_at"`
	ExpiresAt timestamp `bun:"expires_at,nullzero"`
}

func newSuppressionRow(s *sendoka.Suppression) *suppressionRow {
	return &suppressionRow{
		ID: s.ID, OrgID: s.OrgID, TenantID: s.TenantID, Channel: string(s.Channel), Address: s.Address,
		Reason: string(s.Reason), MessageID: s.MessageID, CreatedBy: s.CreatedBy, CreatedAt: ts(s.CreatedAt),
		ExpiresAt: tsPtr(s.ExpiresAt),
	}
}

func (r *suppressionRow) suppression() *sendoka.Suppression {
	return &sendoka.Suppression{
		ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, Channel: sendoka.Channel(r.Channel),
		Address: r.Address, Reason: sendoka.SuppressionReason(r.Reason), MessageID: r.MessageID,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.Time, ExpiresAt: r.ExpiresAt.ptr(),
	}
}

// suppressionHistoryRow is a lifted suppression.
type suppressionHistoryRow struct {
	bun.BaseModel `bun:"table:suppression_history,alias:sh"`

	ID        string    `bun:"id,pk"`
	OrgID     string    `bun:"org_id"`
	TenantID  string    `bun:"tenant_id,nullzero"`
	Channel   string    `bun:"channel"`
	Address   string    `bun:"address"`
	Reason    string    `bun:"reason"`
	MessageID string    `bun:"message_id"`
	CreatedBy string    `bun:"created_by"`
	CreatedAt timestamp `bun:"created_at"`
	ExpiresAt timestamp `bun:"expires_at,nullzero"`
	RemovedAt timestamp `bun:"removed_at"`
	RemovedBy string    `bun:"removed_by"`
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
var suppressionColumns = []string{"id", "org_id", "tenant_id", "channel", "address", "reason", "message_id", "created_by", "created_at", "expires_at"}

func (r *suppressionRow) scanDest() []any {
	return []any{&r.ID, &r.OrgID, (*nullString)(&r.TenantID), &r.Channel, &r.Address, &r.Reason, &r.MessageID, &r.CreatedBy, &r.CreatedAt, &r.ExpiresAt}
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
		out = append(out, r.suppression())
	}
	return out, rows.Err()
}

// ListSuppressions returns one page of the namespace's suppressions, newest first.
func (db *DB) ListSuppressions(ctx context.Context, scope sendoka.Scope, sq sendoka.SuppressionQuery) (_ *sendoka.SuppressionPage, err error) {
	defer classify(ctx, &err)
	limit := sq.Limit
	if limit <= 0 {
		limit = sendoka.DefaultListLimit
	}
	var rows []suppressionRow
	q := inNamespace(db.bun.NewSelect().Model(&rows), "su.", scope)
	if sq.Channel != "" {
		q = q.Where("su.channel = ?", sq.Channel)
	}
	if sq.Reason != "" {
		q = q.Where("su.reason = ?", sq.Reason)
	}
	if sq.CreatedAfter != nil {
		q = q.Where("su.created_at >= ?", ts(*sq.CreatedAfter))
	}
	if sq.CreatedBefore != nil {
		q = q.Where("su.created_at < ?", ts(*sq.CreatedBefore))
	}
	if c := sq.After; c != nil {
		at := ts(c.CreatedAt)
		q = q.Where("su.created_at <= ?", at).
			Where("(su.created_at < ? OR su.id < ?)", at, c.ID)
	}
	q = q.OrderExpr("su.created_at DESC, su.id DESC").Limit(int64(limit + 1))
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	page := &sendoka.SuppressionPage{Suppressions: make([]*sendoka.Suppression, 0, min(len(rows), limit))}
	if len(rows) > limit {
		page.HasMore = true
		rows = rows[:limit]
	}
	for i := range rows {
		page.Suppressions = append(page.Suppressions, rows[i].suppression())
	}
	return page, nil
}

// SuppressionHistory returns the lifted suppressions of an address, most recently removed
// first.
func (db *DB) SuppressionHistory(ctx context.Context, orgID, tenantID string, ch sendoka.Channel, address string, limit int) (_ []*sendoka.Suppression, err error) {
	defer classify(ctx, &err)
	var rows []suppressionHistoryRow
	q := inNamespaceOf(db.bun.NewSelect().Model(&rows), "sh.", orgID, tenantID).
		Where("sh.channel = ?", ch).Where("sh.address = ?", address).
		OrderExpr("sh.removed_at DESC, sh.id DESC").Limit(int64(max(limit, 1)))
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*sendoka.Suppression, len(rows))
	for i, r := range rows {
		s := (&suppressionRow{ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, Channel: r.Channel, Address: r.Address,
			Reason: r.Reason, MessageID: r.MessageID, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}).suppression()
		s.RemovedAt, s.RemovedBy = r.RemovedAt.ptr(), r.RemovedBy
		out[i] = s
	}
	return out, nil
}

// InsertSuppression adds a suppression unless the namespace already has one in force for
// the address and channel; one that expired by s.CreatedAt moves to the history first. ON
// CONFLICT DO NOTHING (no target: the unique index is on an expression) is the same statement
// on both databases, and never aborts a Postgres transaction.
func (t *Tx) InsertSuppression(ctx context.Context, s *sendoka.Suppression) (bool, error) {
	if _, err := t.moveSuppressions(ctx, s.OrgID, s.TenantID, s.Channel, s.Address, sendoka.RemovedByExpiry, s.CreatedAt, &s.CreatedAt); err != nil {
		return false, err
	}
	res, err := t.tx.NewInsert().Model(newSuppressionRow(s)).On("CONFLICT DO NOTHING").Returning("NULL").Exec(ctx)
	return affected(res, err)
}

// DeleteSuppression lifts the namespace's suppression of an address on a channel, keeping it
// in the history.
func (t *Tx) DeleteSuppression(ctx context.Context, orgID, tenantID string, ch sendoka.Channel, address, by string, at time.Time) (bool, error) {
	return t.moveSuppressions(ctx, orgID, tenantID, ch, address, by, at, nil)
}

// moveSuppressions moves the namespace's suppression of an address to the history (only if
// it expired at or before expiredBy, when that is set) and reports whether there was one.
func (t *Tx) moveSuppressions(ctx context.Context, orgID, tenantID string, ch sendoka.Channel, address, by string, at time.Time, expiredBy *time.Time) (bool, error) {
	var rows []suppressionRow
	sel := inNamespaceOf(t.tx.NewSelect().Model(&rows), "su.", orgID, tenantID).
		Where("su.channel = ?", ch).Where("su.address = ?", address)
	if expiredBy != nil {
		sel = sel.Where("su.expires_at IS NOT NULL AND su.expires_at <= ?", ts(*expiredBy))
	}
	if err := sel.Scan(ctx); err != nil || len(rows) == 0 {
		return false, err
	}
	r := rows[0]
	hist := &suppressionHistoryRow{ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, Channel: r.Channel, Address: r.Address,
		Reason: r.Reason, MessageID: r.MessageID, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
		RemovedAt: ts(at), RemovedBy: by}
	if _, err := t.tx.NewInsert().Model(hist).Returning("NULL").Exec(ctx); err != nil {
		return false, err
	}
	res, err := t.tx.NewDelete().Model((*suppressionRow)(nil)).Where("id = ?", r.ID).Exec(ctx)
	return affected(res, err)
}

// suppressionChunk bounds the addresses of one statement of InsertSuppressions.
const suppressionChunk = 500

// InsertSuppressions adds many suppressions, as InsertSuppression would one by one (expired
// ones move to the history first), in a few statements per chunk of addresses, and returns for
// each nil when it was added, or the suppression that kept it out. The statements are
// interpolated by Bun rather than prepared: with hundreds of addresses, Postgres' generic plan
// for a prepared IN list is a hundred times slower than a custom one.
func (t *Tx) InsertSuppressions(ctx context.Context, ss []*sendoka.Suppression) ([]*sendoka.Suppression, error) {
	pg := t.tx.Dialect().Name() == dialect.PG
	type group struct {
		org, tenant string
		ch          sendoka.Channel
		at          time.Time
	}
	byGroup := map[group][]string{}
	var order []group
	for _, s := range ss {
		g := group{s.OrgID, s.TenantID, s.Channel, s.CreatedAt}
		if _, ok := byGroup[g]; !ok {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], s.Address)
	}
	removedAt := "?"
	if pg {
		removedAt = "CAST(? AS timestamptz)"
	}
	cols := "id, org_id, tenant_id, channel, address, reason, message_id, created_by, created_at, expires_at"
	for _, g := range order {
		addrs := byGroup[g]
		for start := 0; start < len(addrs); start += suppressionChunk {
			chunk := addrs[start:min(start+suppressionChunk, len(addrs))]
			where := "org_id = ? AND COALESCE(tenant_id, '') = ? AND channel = ? AND expires_at IS NOT NULL AND expires_at <= ? AND address IN (?)"
			args := []any{g.org, g.tenant, string(g.ch), ts(g.at), bun.In(chunk)}
			if _, err := t.tx.NewRaw("INSERT INTO suppression_history ("+cols+", removed_at, removed_by) SELECT "+cols+", "+removedAt+", ? FROM suppressions WHERE "+where,
				append([]any{ts(g.at), sendoka.RemovedByExpiry}, args...)...).Exec(ctx); err != nil {
				return nil, err
			}
			if _, err := t.tx.NewRaw("DELETE FROM suppressions WHERE "+where, args...).Exec(ctx); err != nil {
				return nil, err
			}
		}
	}
	added := map[string]bool{}
	for start := 0; start < len(ss); start += suppressionChunk {
		chunk := ss[start:min(start+suppressionChunk, len(ss))]
		rows := make([]*suppressionRow, len(chunk))
		for i, s := range chunk {
			rows[i] = newSuppressionRow(s)
		}
		var ids []string
		if err := t.tx.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Returning("id").Scan(ctx, &ids); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		for _, id := range ids {
			added[id] = true
		}
	}
	out := make([]*sendoka.Suppression, len(ss))
	type key struct {
		org, tenant string
		ch          sendoka.Channel
		addr        string
	}
	missing := map[group][]string{}
	for _, s := range ss {
		if !added[s.ID] {
			g := group{org: s.OrgID, tenant: s.TenantID, ch: s.Channel}
			missing[g] = append(missing[g], s.Address)
		}
	}
	found := map[key]*sendoka.Suppression{}
	for g, addrs := range missing {
		for start := 0; start < len(addrs); start += suppressionChunk {
			var rows []suppressionRow
			q := inNamespaceOf(t.tx.NewSelect().Model(&rows), "su.", g.org, g.tenant).
				Where("su.channel = ?", g.ch).Where("su.address IN (?)", bun.In(addrs[start:min(start+suppressionChunk, len(addrs))]))
			if err := q.Scan(ctx); err != nil {
				return nil, err
			}
			for i := range rows {
				found[key{g.org, g.tenant, g.ch, rows[i].Address}] = rows[i].suppression()
			}
		}
	}
	for i, s := range ss {
		if !added[s.ID] {
			out[i] = found[key{s.OrgID, s.TenantID, s.Channel, s.Address}]
		}
	}
	return out, nil
}
