package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/sendoka/sendoka/sendoka"
)

var (
	_ sendoka.TenantStore = (*DB)(nil)
	_ sendoka.TenantTx    = (*Tx)(nil)
)

type tenantRow struct {
	bun.BaseModel `bun:"table:tenants,alias:tn"`

	ID          string `bun:"id,pk"`
	OrgID       string `bun:"org_id"`
	Name        string `bun:"name"`
	Slug        string `bun:"slug"`
	ExternalRef string `bun:"external_ref"`
	// MonthlyEmails and MonthlySMS are the tenant's own monthly caps; 0: none.
	MonthlyEmails int64     `bun:"monthly_emails"`
	MonthlySMS    int64     `bun:"monthly_sms"`
	CreatedAt     timestamp `bun:"created_at"`
	UpdatedAt     timestamp `bun:"updated_at"`
	// DeletedAt is set when the tenant is deleted; its row stays until its data is purged.
	DeletedAt timestamp `bun:"deleted_at,nullzero"`
}

func newTenantRow(t *sendoka.Tenant) *tenantRow {
	return &tenantRow{
		ID: t.ID, OrgID: t.OrgID, Name: t.Name, Slug: t.Slug, ExternalRef: t.ExternalRef,
		MonthlyEmails: t.MonthlyEmails, MonthlySMS: t.MonthlySMS,
		CreatedAt: ts(t.CreatedAt), UpdatedAt: ts(t.UpdatedAt),
	}
}

func (r *tenantRow) tenant() *sendoka.Tenant {
	return &sendoka.Tenant{
		ID: r.ID, OrgID: r.OrgID, Name: r.Name, Slug: r.Slug, ExternalRef: r.ExternalRef,
		MonthlyEmails: r.MonthlyEmails, MonthlySMS: r.MonthlySMS,
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time,
	}
}

// liveTenants keeps the tenants a scope sees that are not deleted: the org's, or only the
// scope's own tenant.
func liveTenants(q *bun.SelectQuery, scope sendoka.Scope) *bun.SelectQuery {
	q = q.Where("tn.org_id = ?", scope.OrgID).Where("tn.deleted_at IS NULL")
	if scope.TenantID != "" {
		q = q.Where("tn.id = ?", scope.TenantID)
	}
	return q
}

// GetTenant returns a tenant in scope that is not deleted, or CodeNotFound.
func (db *DB) GetTenant(ctx context.Context, scope sendoka.Scope, id string) (_ *sendoka.Tenant, err error) {
	defer classify(ctx, &err)
	var row tenantRow
	if err := liveTenants(db.bun.NewSelect().Model(&row), scope).Where("tn.id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("tenant")
		}
		return nil, err
	}
	return row.tenant(), nil
}

// ListTenants returns one page of the tenants in scope that are not deleted, newest first.
func (db *DB) ListTenants(ctx context.Context, scope sendoka.Scope, pq sendoka.PageQuery) (_ *sendoka.TenantPage, err error) {
	defer classify(ctx, &err)
	var rows []tenantRow
	limit, err := listPage(ctx, liveTenants(db.bun.NewSelect().Model(&rows), scope), "tn", pq) // sender.go
	if err != nil {
		return nil, err
	}
	page := &sendoka.TenantPage{Tenants: make([]*sendoka.Tenant, 0, min(len(rows), limit))}
	if len(rows) > limit {
		page.HasMore = true
		rows = rows[:limit]
	}
	for i := range rows {
		page.Tenants = append(page.Tenants, rows[i].tenant())
	}
	return page, nil
}

// messageCountRow is one group of CountMessages.
type messageCountRow struct {
	Channel string `bun:"channel"`
	Status  string `bun:"status"`
	N       int    `bun:"n"`
}

// CountMessages counts the messages of mode in scope by channel and status.
func (db *DB) CountMessages(ctx context.Context, scope sendoka.Scope, mode sendoka.Mode) (_ []sendoka.MessageCount, err error) {
	defer classify(ctx, &err)
	var rows []messageCountRow
	q := scoped(db.bun.NewSelect().TableExpr("messages AS m"), "m", scope). // store.go
										ColumnExpr("m.channel, m.status, COUNT(*) AS n").
										Where("m.mode = ?", string(mode)).
										GroupExpr("m.channel, m.status")
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, err
	}
	out := make([]sendoka.MessageCount, 0, len(rows))
	for _, r := range rows {
		out = append(out, sendoka.MessageCount{Channel: sendoka.Channel(r.Channel), Status: sendoka.Status(r.Status), Count: r.N})
	}
	return out, nil
}

// InsertTenant inserts a tenant. A slug taken by a live tenant of the org is CodeConflict.
func (t *Tx) InsertTenant(ctx context.Context, tn *sendoka.Tenant) error {
	_, err := t.tx.NewInsert().Model(newTenantRow(tn)).Returning("NULL").Exec(ctx)
	return conflict(err, "tenant")
}

// UpdateTenant writes a live tenant's name, slug, reference and update time.
func (t *Tx) UpdateTenant(ctx context.Context, tn *sendoka.Tenant) error {
	res, err := t.tx.NewUpdate().Model(newTenantRow(tn)).Column("name", "slug", "external_ref", "monthly_emails", "monthly_sms", "updated_at").
		Where("id = ?", tn.ID).Where("org_id = ?", tn.OrgID).Where("deleted_at IS NULL").
		Exec(ctx)
	if err != nil {
		return conflict(err, "tenant")
	}
	return foundOrNotFound(res, nil, "tenant") // sender.go
}

// MarkTenantDeleted sets deleted_at on a live tenant of the org.
func (t *Tx) MarkTenantDeleted(ctx context.Context, orgID, id string, at time.Time) error {
	res, err := t.tx.NewUpdate().Model((*tenantRow)(nil)).Set("deleted_at = ?", ts(at)).
		Where("id = ?", id).Where("org_id = ?", orgID).Where("deleted_at IS NULL").
		Exec(ctx)
	return foundOrNotFound(res, err, "tenant")
}

// errNoTenant guards the tenant-wide writes: with an empty tenant id they would reach the
// org-level rows.
var errNoTenant = errors.New("bunstore: a tenant-wide write needs a tenant id")

// RevokeTenantAPIKeys revokes every key of the tenant that still works (or would after at),
// and notifies the key watchers of each at commit, as RevokeAPIKey does (apikey.go).
func (t *Tx) RevokeTenantAPIKeys(ctx context.Context, orgID, tenantID string, at time.Time) ([]string, error) {
	if tenantID == "" {
		return nil, errNoTenant
	}
	var hashes []string
	_, err := t.tx.NewUpdate().Model((*apiKeyRow)(nil)).
		Set("revoked_at = ?", ts(at)).
		Where("org_id = ?", orgID).Where("tenant_id = ?", tenantID).
		Where("(revoked_at IS NULL OR revoked_at > ?)", ts(at)).
		Returning("hash").
		Exec(ctx, &hashes)
	if err != nil {
		return nil, err
	}
	for _, h := range hashes {
		if err := t.notifyKeyChanged(ctx, h); err != nil {
			return nil, err
		}
	}
	return hashes, nil
}

// ScheduledTenantMessages returns unclaimed scheduled messages of the tenant, oldest first.
func (t *Tx) ScheduledTenantMessages(ctx context.Context, orgID, tenantID string, limit int) ([]*sendoka.Message, error) {
	if tenantID == "" {
		return nil, errNoTenant
	}
	var rows []messageRow
	err := t.tx.NewSelect().Model(&rows).
		Where("m.org_id = ?", orgID).Where("m.tenant_id = ?", tenantID).
		Where("m.status = ?", string(sendoka.StatusScheduled)).Where("m.claimed_at IS NULL").
		OrderExpr("m.created_at ASC, m.id ASC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, err
	}
	return messagesOf(rows)
}

// tenantTables are the tables DeleteTenantData empties after the messages, in order, with
// the condition that selects the tenant's rows. The namespaced tables filter on
// COALESCE(tenant_id, ”), the expression their indexes are built on.
var tenantTables = []struct{ table, where string }{
	{"templates", "org_id = ? AND COALESCE(tenant_id, '') = ?"},
	{"phone_numbers", "org_id = ? AND COALESCE(tenant_id, '') = ?"}, // pool members go by foreign key
	{"phone_pools", "org_id = ? AND COALESCE(tenant_id, '') = ?"},   // their members too
	{"suppressions", "org_id = ? AND COALESCE(tenant_id, '') = ?"},
	{"suppression_history", "org_id = ? AND COALESCE(tenant_id, '') = ?"},
	{"webhook_deliveries", "org_id = ? AND COALESCE(tenant_id, '') = ?"}, // before their endpoints
	{"webhook_endpoints", "org_id = ? AND COALESCE(tenant_id, '') = ?"},
	{"api_keys", "org_id = ? AND tenant_id = ?"},
	{"audience_sends", "org_id = ? AND COALESCE(tenant_id, '') = ?"}, // recipients go by foreign key
	{"audiences", "org_id = ? AND COALESCE(tenant_id, '') = ?"},      // contacts too
	{"inbound_emails", "org_id = ? AND COALESCE(tenant_id, '') = ?"}, // attachments go by foreign key
	{"inbound_routes", "org_id = ? AND COALESCE(tenant_id, '') = ?"},
	{"dashboard_users", "org_id = ? AND tenant_id = ?"}, // their tokens go with them (below)
}

// messageChildren are the tables that hang off a message.
var messageChildren = []string{"events", "message_tags", "message_attachments", "message_links", "message_recipients"}

// DeleteTenantData deletes one chunk of the tenant's rows, the first kind that has any left.
func (t *Tx) DeleteTenantData(ctx context.Context, orgID, tenantID string, limit int) (int, error) {
	if tenantID == "" {
		return 0, errNoTenant
	}
	if limit <= 0 {
		return 0, nil
	}
	live, err := t.tx.NewSelect().Model((*tenantRow)(nil)).
		Where("tn.id = ?", tenantID).Where("tn.org_id = ?", orgID).Where("tn.deleted_at IS NULL").
		Exists(ctx)
	if err != nil || live {
		return 0, err
	}
	// Messages first, except those being handed to a provider: their delivery still writes
	// to them.
	var ids []string
	err = t.tx.NewSelect().Table("messages").Column("id").
		Where("org_id = ?", orgID).Where("tenant_id = ?", tenantID).
		Where("NOT (claimed_at IS NOT NULL AND status IN (?))", bun.In([]string{string(sendoka.StatusQueued), string(sendoka.StatusScheduled)})).
		Limit(int64(limit)).Scan(ctx, &ids)
	if err != nil {
		return 0, err
	}
	if len(ids) > 0 {
		for _, table := range messageChildren {
			if _, err := t.tx.NewDelete().Table(table).Where("message_id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
				return 0, err
			}
		}
		res, err := t.tx.NewDelete().Table("messages").Where("id IN (?)", bun.In(ids)).Exec(ctx)
		return rowsAffected(res, err)
	}
	for _, tt := range tenantTables {
		ids = ids[:0]
		if err := t.tx.NewSelect().Table(tt.table).Column("id").Where(tt.where, orgID, tenantID).
			Limit(int64(limit)).Scan(ctx, &ids); err != nil {
			return 0, err
		}
		if len(ids) == 0 {
			continue
		}
		if tt.table == "api_keys" {
			// A key deleted without a word would stay in other processes' caches.
			var hashes []string
			if _, err := t.tx.NewDelete().Model((*apiKeyRow)(nil)).Where("id IN (?)", bun.In(ids)).
				Returning("hash").Exec(ctx, &hashes); err != nil {
				return 0, err
			}
			for _, h := range hashes {
				if err := t.notifyKeyChanged(ctx, h); err != nil {
					return 0, err
				}
			}
			return len(hashes), nil
		}
		if tt.table == "dashboard_users" {
			if _, err := t.tx.NewDelete().Table("dashboard_tokens").Where("user_id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
				return 0, err
			}
		}
		res, err := t.tx.NewDelete().Table(tt.table).Where("id IN (?)", bun.In(ids)).Exec(ctx)
		return rowsAffected(res, err)
	}
	return 0, nil
}

// RemoveTenant deletes the row of a deleted tenant none of whose messages is left.
func (t *Tx) RemoveTenant(ctx context.Context, orgID, id string) (bool, error) {
	res, err := t.tx.NewDelete().Model((*tenantRow)(nil)).
		Where("id = ?", id).Where("org_id = ?", orgID).Where("deleted_at IS NOT NULL").
		Where("NOT EXISTS (SELECT 1 FROM messages AS m WHERE m.org_id = ? AND m.tenant_id = ?)", orgID, id).
		Exec(ctx)
	return affected(res, err)
}

func rowsAffected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
