package bunstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/uptrace/bun"

	"github.com/sendoka/sendoka/sendoka"
)

type phoneNumberRow struct {
	bun.BaseModel `bun:"table:phone_numbers,alias:pn"`

	ID       string `bun:"id,pk"`
	OrgID    string `bun:"org_id"`
	TenantID string `bun:"tenant_id,nullzero"`
	Kind     string `bun:"kind"`
	// Address is the E.164 number or the alphanumeric sender ID, as Kind says.
	Address    string    `bun:"address"`
	ISOCountry string    `bun:"iso_country"`
	Status     string    `bun:"status"`
	Provider   string    `bun:"provider"`
	Diagnostic string    `bun:"diagnostic,nullzero"`
	DailyCap   int64     `bun:"daily_cap"`
	CreatedAt  timestamp `bun:"created_at"`
	UpdatedAt  timestamp `bun:"updated_at"`
}

func newPhoneNumberRow(n *sendoka.PhoneNumber) (*phoneNumberRow, error) {
	r := &phoneNumberRow{
		ID: n.ID, OrgID: n.OrgID, TenantID: n.TenantID, Kind: string(n.Kind), Address: n.Address(),
		ISOCountry: n.ISOCountry, Status: string(n.Status), Provider: n.Provider, DailyCap: n.DailyCap,
		CreatedAt: ts(n.CreatedAt), UpdatedAt: ts(n.UpdatedAt),
	}
	var err error
	r.Diagnostic, err = toJSON(n.Diagnostic)
	return r, err
}

func (r *phoneNumberRow) phoneNumber() (*sendoka.PhoneNumber, error) {
	n := &sendoka.PhoneNumber{
		ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, Kind: sendoka.SenderKind(r.Kind),
		ISOCountry: r.ISOCountry, Status: sendoka.SenderStatus(r.Status), Provider: r.Provider, DailyCap: r.DailyCap,
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time,
	}
	if n.Kind == sendoka.SenderAlphanumeric {
		n.SenderID = r.Address
	} else {
		n.PhoneNumber = r.Address
	}
	if r.Diagnostic != "" {
		n.Diagnostic = new(sendoka.Diagnostic)
		if err := fromJSON(r.Diagnostic, n.Diagnostic); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func phoneNumbers(rows []phoneNumberRow) ([]*sendoka.PhoneNumber, error) {
	out := make([]*sendoka.PhoneNumber, 0, len(rows))
	for i := range rows {
		n, err := rows[i].phoneNumber()
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

type phonePoolRow struct {
	bun.BaseModel `bun:"table:phone_pools,alias:pp"`

	ID        string    `bun:"id,pk"`
	OrgID     string    `bun:"org_id"`
	TenantID  string    `bun:"tenant_id,nullzero"`
	Name      string    `bun:"name"`
	Default   bool      `bun:"is_default"`
	CreatedAt timestamp `bun:"created_at"`
	UpdatedAt timestamp `bun:"updated_at"`
}

type phonePoolMemberRow struct {
	bun.BaseModel `bun:"table:phone_pool_members,alias:pm"`

	PoolID        string `bun:"pool_id,pk"`
	Position      int    `bun:"position,pk"`
	PhoneNumberID string `bun:"phone_number_id"`
}

// inNamespaceOf keeps the rows of exactly one namespace: the org, and the tenant or (for "")
// the org-level rows. It is the expression the unique indexes are built on.
func inNamespaceOf[Q interface {
	Where(string, ...any) Q
}](q Q, prefix, orgID, tenantID string) Q {
	return q.Where(prefix+"org_id = ?", orgID).Where("COALESCE("+prefix+"tenant_id, '') = ?", tenantID)
}

// inScope keeps the rows a scope sees: the org, and the tenant when the scope names one.
// prefix qualifies the columns ("" in UPDATE and DELETE, which the dialects alias
// differently).
func inScope[Q interface {
	Where(string, ...any) Q
}](q Q, prefix string, scope sendoka.Scope) Q {
	q = q.Where(prefix+"org_id = ?", scope.OrgID)
	if scope.TenantID != "" {
		q = q.Where(prefix+"tenant_id = ?", scope.TenantID)
	}
	return q
}

// GetPhoneNumber returns a sender in scope, or CodeNotFound.
func (db *DB) GetPhoneNumber(ctx context.Context, scope sendoka.Scope, id string) (_ *sendoka.PhoneNumber, err error) {
	defer classify(ctx, &err)
	var row phoneNumberRow
	if err := inScope(db.bun.NewSelect().Model(&row), "pn.", scope).Where("pn.id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("phone number")
		}
		return nil, err
	}
	return row.phoneNumber()
}

// GetPhoneNumbers returns the senders of ids that exist in scope.
func (db *DB) GetPhoneNumbers(ctx context.Context, scope sendoka.Scope, ids []string) (_ []*sendoka.PhoneNumber, err error) {
	defer classify(ctx, &err)
	if len(ids) == 0 {
		return []*sendoka.PhoneNumber{}, nil
	}
	var rows []phoneNumberRow
	if err := inScope(db.bun.NewSelect().Model(&rows), "pn.", scope).Where("pn.id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	return phoneNumbers(rows)
}

// ListPhoneNumbers returns one page of senders in scope, newest first.
func (db *DB) ListPhoneNumbers(ctx context.Context, scope sendoka.Scope, pq sendoka.PageQuery) (_ *sendoka.PhoneNumberPage, err error) {
	defer classify(ctx, &err)
	var rows []phoneNumberRow
	limit, err := listPage(ctx, inScope(db.bun.NewSelect().Model(&rows), "pn.", scope), "pn", pq)
	if err != nil {
		return nil, err
	}
	page := &sendoka.PhoneNumberPage{HasMore: len(rows) > limit}
	if page.HasMore {
		rows = rows[:limit]
	}
	page.PhoneNumbers, err = phoneNumbers(rows)
	return page, err
}

// listPage adds the keyset condition, the newest-first order and the limit (plus one row, to
// tell whether more follow) to q and runs it. It returns the limit.
func listPage(ctx context.Context, q *bun.SelectQuery, alias string, pq sendoka.PageQuery) (int, error) {
	limit := pq.Limit
	if limit <= 0 {
		limit = sendoka.DefaultListLimit
	}
	if c := pq.After; c != nil {
		// As ListMessages: the first condition is an index range on both databases.
		at := ts(c.CreatedAt)
		q = q.Where("?.created_at <= ?", bun.Ident(alias), at).
			Where("(?.created_at < ? OR ?.id < ?)", bun.Ident(alias), at, bun.Ident(alias), c.ID)
	}
	q = q.OrderExpr("?.created_at DESC, ?.id DESC", bun.Ident(alias), bun.Ident(alias)).Limit(int64(limit + 1))
	return limit, q.Scan(ctx)
}

// FindPhoneNumbers returns the senders in scope with that address, oldest first.
func (db *DB) FindPhoneNumbers(ctx context.Context, scope sendoka.Scope, address string) (_ []*sendoka.PhoneNumber, err error) {
	defer classify(ctx, &err)
	var rows []phoneNumberRow
	if err := inScope(db.bun.NewSelect().Model(&rows), "pn.", scope).Where("pn.address = ?", address).
		OrderExpr("pn.created_at ASC, pn.id ASC").Scan(ctx); err != nil {
		return nil, err
	}
	return phoneNumbers(rows)
}

// PhoneNumbersByAddress returns every registration of a phone number, in every org.
func (db *DB) PhoneNumbersByAddress(ctx context.Context, address string) (_ []*sendoka.PhoneNumber, err error) {
	defer classify(ctx, &err)
	var rows []phoneNumberRow
	if err := db.bun.NewSelect().Model(&rows).Where("pn.address = ?", address).
		Where("pn.kind <> ?", sendoka.SenderAlphanumeric).
		OrderExpr("pn.created_at ASC, pn.id ASC").Scan(ctx); err != nil {
		return nil, err
	}
	return phoneNumbers(rows)
}

// GetPhonePool returns a pool in scope with its members, or CodeNotFound.
func (db *DB) GetPhonePool(ctx context.Context, scope sendoka.Scope, id string) (_ *sendoka.PhonePool, err error) {
	defer classify(ctx, &err)
	var row phonePoolRow
	if err := inScope(db.bun.NewSelect().Model(&row), "pp.", scope).Where("pp.id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("phone pool")
		}
		return nil, err
	}
	pools, err := withMembers(ctx, db.bun, []phonePoolRow{row})
	if err != nil {
		return nil, err
	}
	return pools[0], nil
}

// ListPhonePools returns one page of pools in scope, newest first.
func (db *DB) ListPhonePools(ctx context.Context, scope sendoka.Scope, pq sendoka.PageQuery) (_ *sendoka.PhonePoolPage, err error) {
	defer classify(ctx, &err)
	var rows []phonePoolRow
	limit, err := listPage(ctx, inScope(db.bun.NewSelect().Model(&rows), "pp.", scope), "pp", pq)
	if err != nil {
		return nil, err
	}
	page := &sendoka.PhonePoolPage{HasMore: len(rows) > limit}
	if page.HasMore {
		rows = rows[:limit]
	}
	page.Pools, err = withMembers(ctx, db.bun, rows)
	return page, err
}

// DefaultPhonePool returns the default pool of one namespace, or CodeNotFound.
func (db *DB) DefaultPhonePool(ctx context.Context, orgID, tenantID string) (_ *sendoka.PhonePool, err error) {
	defer classify(ctx, &err)
	var row phonePoolRow
	q := inNamespaceOf(db.bun.NewSelect().Model(&row), "pp.", orgID, tenantID).Where("pp.is_default = ?", true)
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("default phone pool")
		}
		return nil, err
	}
	pools, err := withMembers(ctx, db.bun, []phonePoolRow{row})
	if err != nil {
		return nil, err
	}
	return pools[0], nil
}

// withMembers loads the members of pools in one query.
func withMembers(ctx context.Context, idb bun.IDB, rows []phonePoolRow) ([]*sendoka.PhonePool, error) {
	out := make([]*sendoka.PhonePool, 0, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	byID := make(map[string]*sendoka.PhonePool, len(rows))
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		p := &sendoka.PhonePool{
			ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, Name: r.Name, Default: r.Default,
			PhoneNumberIDs: []string{}, CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time,
		}
		out = append(out, p)
		byID[r.ID] = p
		ids = append(ids, r.ID)
	}
	var members []phonePoolMemberRow
	if err := idb.NewSelect().Model(&members).Where("pm.pool_id IN (?)", bun.In(ids)).
		OrderExpr("pm.pool_id, pm.position").Scan(ctx); err != nil {
		return nil, err
	}
	for _, m := range members {
		p := byID[m.PoolID]
		p.PhoneNumberIDs = append(p.PhoneNumberIDs, m.PhoneNumberID)
	}
	return out, nil
}

// InsertPhoneNumber inserts a sender; the same address and country twice in a namespace is
// CodeConflict.
func (t *Tx) InsertPhoneNumber(ctx context.Context, n *sendoka.PhoneNumber) error {
	row, err := newPhoneNumberRow(n)
	if err != nil {
		return err
	}
	_, err = t.tx.NewInsert().Model(row).Returning("NULL").Exec(ctx)
	return conflict(err, "phone number")
}

// UpdatePhoneNumber writes a sender's provisioning columns.
func (t *Tx) UpdatePhoneNumber(ctx context.Context, n *sendoka.PhoneNumber) error {
	row, err := newPhoneNumberRow(n)
	if err != nil {
		return err
	}
	res, err := t.tx.NewUpdate().Model(row).Column("status", "provider", "diagnostic", "updated_at").
		Where("id = ?", n.ID).Exec(ctx)
	return foundOrNotFound(res, err, "phone number")
}

// DeletePhoneNumber deletes a sender in scope; the foreign key removes its pool memberships.
func (t *Tx) DeletePhoneNumber(ctx context.Context, scope sendoka.Scope, id string) error {
	q := t.tx.NewDelete().Model((*phoneNumberRow)(nil)).Where("id = ?", id)
	res, err := inScope(q, "", scope).Exec(ctx)
	return foundOrNotFound(res, err, "phone number")
}

// InsertPhonePool inserts a pool and its members.
func (t *Tx) InsertPhonePool(ctx context.Context, p *sendoka.PhonePool) error {
	if err := t.clearDefault(ctx, p); err != nil {
		return err
	}
	row := &phonePoolRow{ID: p.ID, OrgID: p.OrgID, TenantID: p.TenantID, Name: p.Name, Default: p.Default,
		CreatedAt: ts(p.CreatedAt), UpdatedAt: ts(p.UpdatedAt)}
	if _, err := t.tx.NewInsert().Model(row).Returning("NULL").Exec(ctx); err != nil {
		return conflict(err, "phone pool")
	}
	return t.insertMembers(ctx, p)
}

// UpdatePhonePool writes a pool's name, default flag and members.
func (t *Tx) UpdatePhonePool(ctx context.Context, scope sendoka.Scope, p *sendoka.PhonePool) error {
	exists, err := inScope(t.tx.NewSelect().Model((*phonePoolRow)(nil)), "pp.", scope).Where("pp.id = ?", p.ID).Exists(ctx)
	if err != nil {
		return err
	}
	if !exists {
		return sendoka.NotFound("phone pool")
	}
	if err := t.clearDefault(ctx, p); err != nil {
		return err
	}
	row := &phonePoolRow{ID: p.ID, Name: p.Name, Default: p.Default, UpdatedAt: ts(p.UpdatedAt)}
	if _, err := t.tx.NewUpdate().Model(row).Column("name", "is_default", "updated_at").Where("id = ?", p.ID).Exec(ctx); err != nil {
		return conflict(err, "phone pool")
	}
	if _, err := t.tx.NewDelete().Model((*phonePoolMemberRow)(nil)).Where("pool_id = ?", p.ID).Exec(ctx); err != nil {
		return err
	}
	return t.insertMembers(ctx, p)
}

// clearDefault makes the current default pool of p's namespace an ordinary pool when p is to
// be the default.
func (t *Tx) clearDefault(ctx context.Context, p *sendoka.PhonePool) error {
	if !p.Default {
		return nil
	}
	q := t.tx.NewUpdate().Model((*phonePoolRow)(nil)).Set("is_default = ?", false).
		Where("is_default = ?", true).Where("id <> ?", p.ID)
	_, err := inNamespaceOf(q, "", p.OrgID, p.TenantID).Exec(ctx)
	return err
}

func (t *Tx) insertMembers(ctx context.Context, p *sendoka.PhonePool) error {
	if len(p.PhoneNumberIDs) == 0 {
		return nil
	}
	rows := make([]phonePoolMemberRow, len(p.PhoneNumberIDs))
	for i, id := range p.PhoneNumberIDs {
		rows[i] = phonePoolMemberRow{PoolID: p.ID, Position: i, PhoneNumberID: id}
	}
	_, err := t.tx.NewInsert().Model(&rows).Returning("NULL").Exec(ctx)
	return conflict(err, "phone pool member")
}

// DeletePhonePool deletes a pool in scope; the foreign key removes its members.
func (t *Tx) DeletePhonePool(ctx context.Context, scope sendoka.Scope, id string) error {
	q := t.tx.NewDelete().Model((*phonePoolRow)(nil)).Where("id = ?", id)
	res, err := inScope(q, "", scope).Exec(ctx)
	return foundOrNotFound(res, err, "phone pool")
}

// foundOrNotFound turns "no row affected" into CodeNotFound.
func foundOrNotFound(res sql.Result, err error, what string) error {
	ok, err := affected(res, err)
	if err != nil {
		return err
	}
	if !ok {
		return sendoka.NotFound(what)
	}
	return nil
}
