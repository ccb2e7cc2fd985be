package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/sendoka/sendoka/sendoka"
)

type domainRow struct {
	bun.BaseModel `bun:"table:domains,alias:dm"`

	ID             string    `bun:"id,pk"`
	OrgID          string    `bun:"org_id"`
	TenantID       string    `bun:"tenant_id,nullzero"`
	Name           string    `bun:"name"`
	Status         string    `bun:"status"`
	Provider       string    `bun:"provider"`
	DKIMSelector   string    `bun:"dkim_selector"`
	DKIMPrivateKey string    `bun:"dkim_private_key"`
	Records        string    `bun:"records"`
	CreatedAt      timestamp `bun:"created_at"`
	UpdatedAt      timestamp `bun:"updated_at"`
	VerifiedAt     timestamp `bun:"verified_at,nullzero"`
	CheckedAt      timestamp `bun:"checked_at,nullzero"`
}

func newDomainRow(d *sendoka.Domain) (*domainRow, error) {
	r := &domainRow{
		ID: d.ID, OrgID: d.OrgID, TenantID: d.TenantID, Name: d.Name, Status: string(d.Status),
		Provider: d.Provider, DKIMSelector: d.DKIMSelector, DKIMPrivateKey: d.DKIMPrivateKey,
		CreatedAt: ts(d.CreatedAt), UpdatedAt: ts(d.UpdatedAt), VerifiedAt: tsPtr(d.VerifiedAt), CheckedAt: tsPtr(d.CheckedAt),
	}
	records := d.Records
	if records == nil {
		records = []sendoka.DNSRecord{}
	}
	var err error
	r.Records, err = sliceJSON(records)
	return r, err
}

func (r *domainRow) domain() (*sendoka.Domain, error) {
	d := &sendoka.Domain{
		ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, Name: r.Name, Status: sendoka.DomainStatus(r.Status),
		Provider: r.Provider, DKIMSelector: r.DKIMSelector, DKIMPrivateKey: r.DKIMPrivateKey,
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time, VerifiedAt: r.VerifiedAt.ptr(), CheckedAt: r.CheckedAt.ptr(),
	}
	if err := fromJSON(r.Records, &d.Records); err != nil {
		return nil, err
	}
	if d.Records == nil {
		d.Records = []sendoka.DNSRecord{}
	}
	return d, nil
}

func domains(rows []domainRow) ([]*sendoka.Domain, error) {
	out := make([]*sendoka.Domain, 0, len(rows))
	for i := range rows {
		d, err := rows[i].domain()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// GetDomain returns a domain in scope, or CodeNotFound.
func (db *DB) GetDomain(ctx context.Context, scope sendoka.Scope, id string) (_ *sendoka.Domain, err error) {
	defer classify(ctx, &err)
	var row domainRow
	if err := inScope(db.bun.NewSelect().Model(&row), "dm.", scope).Where("dm.id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("domain")
		}
		return nil, err
	}
	return row.domain()
}

// ListDomains returns one page of domains in scope, newest first.
func (db *DB) ListDomains(ctx context.Context, scope sendoka.Scope, pq sendoka.PageQuery) (_ *sendoka.DomainPage, err error) {
	defer classify(ctx, &err)
	var rows []domainRow
	limit, err := listPage(ctx, inScope(db.bun.NewSelect().Model(&rows), "dm.", scope), "dm", pq)
	if err != nil {
		return nil, err
	}
	page := &sendoka.DomainPage{HasMore: len(rows) > limit}
	if page.HasMore {
		rows = rows[:limit]
	}
	page.Domains, err = domains(rows)
	return page, err
}

// NamespaceDomains returns every domain of exactly one namespace: the org-level domains, or
// one tenant's.
func (db *DB) NamespaceDomains(ctx context.Context, orgID, tenantID string) (_ []*sendoka.Domain, err error) {
	defer classify(ctx, &err)
	var rows []domainRow
	if err := inNamespaceOf(db.bun.NewSelect().Model(&rows), "dm.", orgID, tenantID).Scan(ctx); err != nil {
		return nil, err
	}
	return domains(rows)
}

// PendingDomains returns recent pending domains, never checked first, then the least
// recently checked.
func (db *DB) PendingDomains(ctx context.Context, createdSince time.Time, limit int) (_ []*sendoka.Domain, err error) {
	defer classify(ctx, &err)
	var rows []domainRow
	if err := db.bun.NewSelect().Model(&rows).
		Where("dm.status = ?", string(sendoka.DomainPending)).
		Where("dm.created_at >= ?", ts(createdSince)).
		OrderExpr("(dm.checked_at IS NOT NULL), dm.checked_at ASC, dm.id ASC").
		Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	return domains(rows)
}

// InsertDomain inserts a domain. A name taken in its namespace is CodeConflict.
func (t *Tx) InsertDomain(ctx context.Context, d *sendoka.Domain) error {
	row, err := newDomainRow(d)
	if err != nil {
		return err
	}
	_, err = t.tx.NewInsert().Model(row).Returning("NULL").Exec(ctx)
	return conflict(err, "domain")
}

// UpdateDomainCheck writes a check's outcome. A stored verified status (and its
// verified_at) is kept whatever the new one says.
func (t *Tx) UpdateDomainCheck(ctx context.Context, d *sendoka.Domain) error {
	row, err := newDomainRow(d)
	if err != nil {
		return err
	}
	verified := string(sendoka.DomainVerified)
	res, err := t.tx.NewUpdate().Model((*domainRow)(nil)).
		Set("status = CASE WHEN status = ? THEN status ELSE ? END", verified, row.Status).
		Set("verified_at = COALESCE(verified_at, ?)", row.VerifiedAt).
		Set("records = ?", row.Records).
		Set("checked_at = ?", row.CheckedAt).
		Set("updated_at = ?", row.UpdatedAt).
		Where("id = ?", d.ID).
		Exec(ctx)
	ok, err := affected(res, err)
	if err != nil {
		return err
	}
	if !ok {
		return sendoka.NotFound("domain")
	}
	return nil
}

// DeleteDomain removes a domain in scope, or returns CodeNotFound.
func (t *Tx) DeleteDomain(ctx context.Context, scope sendoka.Scope, id string) error {
	q := t.tx.NewDelete().Model((*domainRow)(nil)).Where("id = ?", id)
	res, err := inScope(q, "", scope).Exec(ctx)
	ok, err := affected(res, err)
	if err != nil {
		return err
	}
	if !ok {
		return sendoka.NotFound("domain")
	}
	return nil
}
