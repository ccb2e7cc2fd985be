package bunstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/sendoka/sendoka/sendoka"
)

type webhookEndpointRow struct {
	bun.BaseModel `bun:"table:webhook_endpoints,alias:we"`

	ID                      string    `bun:"id,pk"`
	OrgID                   string    `bun:"org_id"`
	TenantID                string    `bun:"tenant_id,nullzero"`
	URL                     string    `bun:"url"`
	Description             string    `bun:"description"`
	Events                  string    `bun:"events,nullzero"`
	FilterTags              string    `bun:"filter_tags,nullzero"`
	Enabled                 bool      `bun:"enabled"`
	DisabledReason          string    `bun:"disabled_reason"`
	Secret                  string    `bun:"secret"`
	PreviousSecret          string    `bun:"previous_secret"`
	PreviousSecretExpiresAt timestamp `bun:"previous_secret_expires_at"`
	FailingSince            timestamp `bun:"failing_since"`
	CreatedAt               timestamp `bun:"created_at"`
	UpdatedAt               timestamp `bun:"updated_at"`
}

// webhookEndpointColumns are the columns UpdateWebhookEndpoint writes.
var webhookEndpointColumns = []string{"url", "description", "events", "filter_tags", "enabled", "disabled_reason",
	"secret", "previous_secret", "previous_secret_expires_at", "failing_since", "updated_at"}

func newWebhookEndpointRow(e *sendoka.WebhookEndpoint) (*webhookEndpointRow, error) {
	r := &webhookEndpointRow{
		ID: e.ID, OrgID: e.OrgID, TenantID: e.TenantID, URL: e.URL, Description: e.Description,
		Enabled: e.Enabled, DisabledReason: e.DisabledReason, Secret: e.Secret, PreviousSecret: e.PreviousSecret,
		PreviousSecretExpiresAt: tsPtr(e.PreviousSecretExpiresAt), FailingSince: tsPtr(e.FailingSince),
		CreatedAt: ts(e.CreatedAt), UpdatedAt: ts(e.UpdatedAt),
	}
	var err error
	if len(e.Events) > 0 {
		if r.Events, err = sliceJSON(e.Events); err != nil {
			return nil, err
		}
	}
	if len(e.FilterTags) > 0 {
		r.FilterTags, err = sliceJSON(e.FilterTags)
	}
	return r, err
}

func timePtr(t timestamp) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := t.Time
	return &v
}

func (r *webhookEndpointRow) endpoint() (*sendoka.WebhookEndpoint, error) {
	e := &sendoka.WebhookEndpoint{
		ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, URL: r.URL, Description: r.Description,
		Enabled: r.Enabled, DisabledReason: r.DisabledReason, Secret: r.Secret, PreviousSecret: r.PreviousSecret,
		PreviousSecretExpiresAt: timePtr(r.PreviousSecretExpiresAt), FailingSince: timePtr(r.FailingSince),
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time,
	}
	if err := fromJSON(r.Events, &e.Events); err != nil {
		return nil, err
	}
	if err := fromJSON(r.FilterTags, &e.FilterTags); err != nil {
		return nil, err
	}
	return e, nil
}

func endpointsOf(rows []webhookEndpointRow) ([]*sendoka.WebhookEndpoint, error) {
	out := make([]*sendoka.WebhookEndpoint, 0, len(rows))
	for i := range rows {
		e, err := rows[i].endpoint()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// GetWebhookEndpoint returns an endpoint of the scope's namespace, or CodeNotFound.
func (db *DB) GetWebhookEndpoint(ctx context.Context, scope sendoka.Scope, id string) (_ *sendoka.WebhookEndpoint, err error) {
	defer classify(ctx, &err)
	var row webhookEndpointRow
	q := inNamespace(db.bun.NewSelect().Model(&row), "we.", scope).Where("we.id = ?", id)
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("webhook endpoint")
		}
		return nil, err
	}
	return row.endpoint()
}

// keyset adds the newest-first page conditions of q to a query on a table aliased alias.
func keyset(q *bun.SelectQuery, alias string, pq sendoka.PageQuery) *bun.SelectQuery {
	if c := pq.After; c != nil {
		at := ts(c.CreatedAt)
		q = q.Where(alias+".created_at <= ?", at).Where("("+alias+".created_at < ? OR "+alias+".id < ?)", at, c.ID)
	}
	return q.OrderExpr(alias + ".created_at DESC, " + alias + ".id DESC").Limit(int64(pageLimit(pq) + 1))
}

func pageLimit(pq sendoka.PageQuery) int {
	if pq.Limit <= 0 {
		return sendoka.DefaultListLimit
	}
	return pq.Limit
}

// ListWebhookEndpoints returns one page of the namespace's endpoints, newest first.
func (db *DB) ListWebhookEndpoints(ctx context.Context, scope sendoka.Scope, pq sendoka.PageQuery) (_ *sendoka.WebhookEndpointPage, err error) {
	defer classify(ctx, &err)
	var rows []webhookEndpointRow
	q := keyset(inNamespace(db.bun.NewSelect().Model(&rows), "we.", scope), "we", pq)
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	page := &sendoka.WebhookEndpointPage{}
	if limit := pageLimit(pq); len(rows) > limit {
		page.HasMore, rows = true, rows[:limit]
	}
	page.Endpoints, err = endpointsOf(rows)
	return page, err
}

// InsertWebhookEndpoint inserts an endpoint.
func (t *Tx) InsertWebhookEndpoint(ctx context.Context, e *sendoka.WebhookEndpoint) error {
	row, err := newWebhookEndpointRow(e)
	if err != nil {
		return err
	}
	_, err = t.tx.NewInsert().Model(row).Returning("NULL").Exec(ctx)
	return conflict(err, "webhook endpoint")
}

// UpdateWebhookEndpoint writes an endpoint's mutable columns.
func (t *Tx) UpdateWebhookEndpoint(ctx context.Context, e *sendoka.WebhookEndpoint) (bool, error) {
	row, err := newWebhookEndpointRow(e)
	if err != nil {
		return false, err
	}
	q := t.tx.NewUpdate().Model(row).Column(webhookEndpointColumns...).Where("id = ?", e.ID)
	res, err := inNamespace(q, "", sendoka.Scope{OrgID: e.OrgID, TenantID: e.TenantID}).Exec(ctx)
	return affected(res, err)
}

// UpdateWebhookEndpointHealth writes an endpoint's enabled, disabled_reason and
// failing_since.
func (t *Tx) UpdateWebhookEndpointHealth(ctx context.Context, e *sendoka.WebhookEndpoint) error {
	row, err := newWebhookEndpointRow(e)
	if err != nil {
		return err
	}
	_, err = t.tx.NewUpdate().Model(row).Column("enabled", "disabled_reason", "failing_since").Where("id = ?", e.ID).Exec(ctx)
	return err
}

// DeleteWebhookEndpoint removes an endpoint of the scope's namespace and its deliveries.
func (t *Tx) DeleteWebhookEndpoint(ctx context.Context, scope sendoka.Scope, id string) error {
	q := t.tx.NewDelete().Model((*webhookEndpointRow)(nil)).Where("id = ?", id)
	ok, err := affected(inNamespace(q, "", scope).Exec(ctx))
	if err != nil {
		return err
	}
	if !ok {
		return sendoka.NotFound("webhook endpoint")
	}
	_, err = t.tx.NewDelete().Model((*webhookDeliveryRow)(nil)).Where("endpoint_id = ?", id).Exec(ctx)
	return err
}

// SubscribableWebhookEndpoints returns the enabled endpoints of the org level and of the
// tenant.
func (t *Tx) SubscribableWebhookEndpoints(ctx context.Context, orgID, tenantID string) ([]*sendoka.WebhookEndpoint, error) {
	var rows []webhookEndpointRow
	q := t.tx.NewSelect().Model(&rows).Where("we.org_id = ?", orgID).Where("we.enabled = ?", true)
	if tenantID == "" {
		q = q.Where("we.tenant_id IS NULL")
	} else {
		q = q.Where("(we.tenant_id IS NULL OR we.tenant_id = ?)", tenantID)
	}
	if err := q.OrderExpr("we.created_at, we.id").Scan(ctx); err != nil {
		return nil, err
	}
	return endpointsOf(rows)
}

type webhookDeliveryRow struct {
	bun.BaseModel `bun:"table:webhook_deliveries,alias:wd"`

	ID          string    `bun:"id,pk"`
	OrgID       string    `bun:"org_id"`
	TenantID    string    `bun:"tenant_id,nullzero"`
	EndpointID  string    `bun:"endpoint_id"`
	EventID     string    `bun:"event_id,nullzero"`
	EventType   string    `bun:"event_type"`
	MessageID   string    `bun:"message_id,nullzero"`
	Payload     string    `bun:"payload,nullzero"`
	Status      string    `bun:"status"`
	Attempts    string    `bun:"attempts,nullzero"`
	NextRetryAt timestamp `bun:"next_retry_at"`
	ReplayOf    string    `bun:"replay_of,nullzero"`
	CreatedAt   timestamp `bun:"created_at"`
	UpdatedAt   timestamp `bun:"updated_at"`
}

var webhookDeliveryColumns = []string{"id", "org_id", "tenant_id", "endpoint_id", "event_id", "event_type",
	"message_id", "payload", "status", "attempts", "next_retry_at", "replay_of", "created_at", "updated_at"}

func newWebhookDeliveryRow(d *sendoka.WebhookDelivery) (*webhookDeliveryRow, error) {
	r := &webhookDeliveryRow{
		ID: d.ID, OrgID: d.OrgID, TenantID: d.TenantID, EndpointID: d.EndpointID, EventID: d.EventID,
		EventType: string(d.EventType), MessageID: d.MessageID, Payload: string(d.Payload), Status: string(d.Status),
		NextRetryAt: tsPtr(d.NextRetryAt), ReplayOf: d.ReplayOf, CreatedAt: ts(d.CreatedAt), UpdatedAt: ts(d.UpdatedAt),
	}
	if len(d.Attempts) > 0 {
		b, err := json.Marshal(d.Attempts)
		if err != nil {
			return nil, err
		}
		r.Attempts = string(b)
	}
	return r, nil
}

func (r *webhookDeliveryRow) values() []any {
	return []any{r.ID, r.OrgID, nullString(r.TenantID), r.EndpointID, nullString(r.EventID), r.EventType,
		nullString(r.MessageID), nullString(r.Payload), r.Status, nullString(r.Attempts), r.NextRetryAt,
		nullString(r.ReplayOf), r.CreatedAt, r.UpdatedAt}
}

func (r *webhookDeliveryRow) delivery() (*sendoka.WebhookDelivery, error) {
	d := &sendoka.WebhookDelivery{
		ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, EndpointID: r.EndpointID, EventID: r.EventID,
		EventType: sendoka.EventType(r.EventType), MessageID: r.MessageID, Status: sendoka.WebhookDeliveryStatus(r.Status),
		NextRetryAt: timePtr(r.NextRetryAt), ReplayOf: r.ReplayOf, CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time,
	}
	if r.Payload != "" {
		d.Payload = []byte(r.Payload)
	}
	if err := fromJSON(r.Attempts, &d.Attempts); err != nil {
		return nil, err
	}
	for i := range d.Attempts {
		d.Attempts[i].At = d.Attempts[i].At.UTC()
	}
	return d, nil
}

func deliveriesOf(rows []webhookDeliveryRow) ([]*sendoka.WebhookDelivery, error) {
	out := make([]*sendoka.WebhookDelivery, 0, len(rows))
	for i := range rows {
		d, err := rows[i].delivery()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// InsertWebhookDeliveries inserts deliveries with multi-row INSERTs of bound values.
func (t *Tx) InsertWebhookDeliveries(ctx context.Context, ds ...*sendoka.WebhookDelivery) error {
	if len(ds) == 0 {
		return nil
	}
	rows := make([][]any, 0, len(ds))
	for _, d := range ds {
		r, err := newWebhookDeliveryRow(d)
		if err != nil {
			return err
		}
		rows = append(rows, r.values())
	}
	return conflict(t.insertValues(ctx, "webhook_deliveries", webhookDeliveryColumns, rows), "webhook delivery")
}

// UpdateWebhookDeliveries writes deliveries' payload, status, attempts, next retry and
// update time, all of them in one statement (an UPDATE joined to a VALUES list) when they
// fit one, so the webhook workers' concurrent attempts cost one write between them.
func (t *Tx) UpdateWebhookDeliveries(ctx context.Context, ds ...*sendoka.WebhookDelivery) error {
	pg := t.tx.Dialect().Name() == dialect.PG
	rows := make([][]any, 0, len(ds))
	for _, d := range ds {
		r, err := newWebhookDeliveryRow(d)
		if err != nil {
			return err
		}
		rows = append(rows, []any{r.ID, nullString(r.Payload), r.Status, nullString(r.Attempts), r.NextRetryAt, r.UpdatedAt})
	}
	for len(rows) > 0 {
		n := statementSizes(rows, 6)[0]
		query := updateDeliveriesSQL(n, pg)
		args := make([]any, 0, n*6)
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if _, err := t.tx.Tx.ExecContext(ctx, query, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// updateDeliveriesSQL is the UPDATE of n deliveries: both databases join the table to a
// named VALUES list (SQLite since 3.33). Postgres types a VALUES column from its first
// row, so the times are cast there.
func updateDeliveriesSQL(n int, pg bool) string {
	row := "(?, ?, ?, ?, ?, ?)"
	if pg {
		row = "(?, ?, ?, ?, CAST(? AS timestamptz), CAST(? AS timestamptz))"
	}
	var b strings.Builder
	b.WriteString("WITH v(id, payload, status, attempts, next_retry_at, updated_at) AS (VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(") UPDATE webhook_deliveries SET payload = v.payload, status = v.status, attempts = v.attempts, " +
		"next_retry_at = v.next_retry_at, updated_at = v.updated_at FROM v WHERE webhook_deliveries.id = v.id")
	return bindVars(pg, b.String())
}

// GetWebhookDelivery returns a delivery by id, or CodeNotFound.
func (db *DB) GetWebhookDelivery(ctx context.Context, id string) (_ *sendoka.WebhookDelivery, err error) {
	defer classify(ctx, &err)
	var row webhookDeliveryRow
	if err := db.bun.NewSelect().Model(&row).Where("wd.id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("webhook delivery")
		}
		return nil, err
	}
	return row.delivery()
}

// webhookDeliveryAndEndpoint is a delivery joined to its endpoint.
type webhookDeliveryAndEndpoint struct {
	webhookDeliveryRow `bun:",extend"`

	Endpoint *webhookEndpointRow `bun:"rel:belongs-to,join:endpoint_id=id"`
}

// GetWebhookDeliveriesAndEndpoints returns the deliveries of ids that exist, each with its
// endpoint, read in one statement. Every webhook attempt starts here, so the statement
// binds the ids as one parameter (Bun would write them into the text, making every
// statement new to Postgres's statement cache: a second round trip to prepare it each
// time): an array on Postgres, a JSON list on SQLite.
func (db *DB) GetWebhookDeliveriesAndEndpoints(ctx context.Context, ids ...string) (_ []sendoka.WebhookDeliveryAndEndpoint, err error) {
	defer classify(ctx, &err)
	if len(ids) == 0 {
		return nil, nil
	}
	pg := db.dialect == DialectPostgres
	db.deliveryAndEndpointOnce.Do(func() {
		cond := "wd.id IN (SELECT value FROM json_each(?))"
		if pg {
			cond = "wd.id = ANY(CAST(? AS text[]))"
		}
		q := db.bun.NewSelect().Model((*webhookDeliveryAndEndpoint)(nil)).Relation("Endpoint").Where(cond, bun.Safe("?"))
		db.deliveryAndEndpointSQL = bindVars(pg, q.String())
	})
	var arg any = ids
	if !pg {
		b, err := json.Marshal(ids)
		if err != nil {
			return nil, err
		}
		arg = string(b)
	}
	rows, err := db.bun.DB.QueryContext(ctx, db.deliveryAndEndpointSQL, arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var found []webhookDeliveryAndEndpoint
	if err := db.bun.ScanRows(ctx, rows, &found); err != nil {
		return nil, err
	}
	out := make([]sendoka.WebhookDeliveryAndEndpoint, 0, len(found))
	for i := range found {
		r := &found[i]
		if r.Endpoint == nil || r.Endpoint.ID == "" {
			continue // the endpoint is gone, and its deliveries with it
		}
		d, err := r.delivery()
		if err != nil {
			return nil, err
		}
		e, err := r.Endpoint.endpoint()
		if err != nil {
			return nil, err
		}
		out = append(out, sendoka.WebhookDeliveryAndEndpoint{Delivery: d, Endpoint: e})
	}
	return out, nil
}

// ListWebhookDeliveries returns one page of an endpoint's deliveries, newest first.
func (db *DB) ListWebhookDeliveries(ctx context.Context, endpointID string, pq sendoka.PageQuery) (_ *sendoka.WebhookDeliveryPage, err error) {
	defer classify(ctx, &err)
	var rows []webhookDeliveryRow
	q := keyset(db.bun.NewSelect().Model(&rows).Where("wd.endpoint_id = ?", endpointID), "wd", pq)
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	page := &sendoka.WebhookDeliveryPage{}
	if limit := pageLimit(pq); len(rows) > limit {
		page.HasMore, rows = true, rows[:limit]
	}
	page.Deliveries, err = deliveriesOf(rows)
	return page, err
}

// FailedWebhookDeliveries returns an endpoint's failed deliveries created since, oldest
// first.
func (db *DB) FailedWebhookDeliveries(ctx context.Context, endpointID string, since time.Time, limit int) (_ []*sendoka.WebhookDelivery, err error) {
	defer classify(ctx, &err)
	var rows []webhookDeliveryRow
	err = db.bun.NewSelect().Model(&rows).Where("wd.endpoint_id = ?", endpointID).
		Where("wd.status = ?", string(sendoka.WebhookFailed)).Where("wd.created_at >= ?", ts(since)).
		OrderExpr("wd.created_at, wd.id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, err
	}
	return deliveriesOf(rows)
}
