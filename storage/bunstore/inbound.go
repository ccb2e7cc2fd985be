package bunstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/uptrace/bun"

	"github.com/sendoka/sendoka/sendoka"
)

var (
	_ sendoka.InboundRouteStore = (*DB)(nil)
	_ sendoka.InboundRouteTx    = (*Tx)(nil)
	_ sendoka.InboundEmailStore = (*DB)(nil)
	_ sendoka.InboundEmailTx    = (*Tx)(nil)
)

type inboundRouteRow struct {
	bun.BaseModel `bun:"table:inbound_routes,alias:ir"`

	ID             string    `bun:"id,pk"`
	OrgID          string    `bun:"org_id"`
	TenantID       string    `bun:"tenant_id,nullzero"`
	Match          string    `bun:"match"`
	ForwardWebhook bool      `bun:"forward_webhook"`
	CreatedAt      timestamp `bun:"created_at"`
}

func (r *inboundRouteRow) route() *sendoka.InboundRoute {
	return &sendoka.InboundRoute{ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, Match: r.Match,
		ForwardWebhook: r.ForwardWebhook, CreatedAt: r.CreatedAt.Time}
}

// GetInboundRoute returns a route of the scope's namespace, or CodeNotFound.
func (db *DB) GetInboundRoute(ctx context.Context, scope sendoka.Scope, id string) (_ *sendoka.InboundRoute, err error) {
	defer classify(ctx, &err)
	var row inboundRouteRow
	if err := inNamespace(db.bun.NewSelect().Model(&row), "ir.", scope).Where("ir.id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("inbound route")
		}
		return nil, err
	}
	return row.route(), nil
}

// ListInboundRoutes returns one page of the namespace's routes, newest first.
func (db *DB) ListInboundRoutes(ctx context.Context, scope sendoka.Scope, pq sendoka.PageQuery) (_ *sendoka.InboundRoutePage, err error) {
	defer classify(ctx, &err)
	var rows []inboundRouteRow
	if err := keyset(inNamespace(db.bun.NewSelect().Model(&rows), "ir.", scope), "ir", pq).Scan(ctx); err != nil {
		return nil, err
	}
	page := &sendoka.InboundRoutePage{}
	if limit := pageLimit(pq); len(rows) > limit {
		page.HasMore, rows = true, rows[:limit]
	}
	for i := range rows {
		page.Routes = append(page.Routes, rows[i].route())
	}
	return page, nil
}

// InboundRoutesMatching returns the routes whose match is one of matches.
func (db *DB) InboundRoutesMatching(ctx context.Context, matches []string) (_ []*sendoka.InboundRoute, err error) {
	defer classify(ctx, &err)
	var rows []inboundRouteRow
	if len(matches) == 0 {
		return nil, nil
	}
	if err := db.bun.NewSelect().Model(&rows).Where("ir.match IN (?)", bun.In(matches)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*sendoka.InboundRoute, len(rows))
	for i := range rows {
		out[i] = rows[i].route()
	}
	return out, nil
}

// InboundRouteDomainExists reports whether a route's match ends with @domain.
func (db *DB) InboundRouteDomainExists(ctx context.Context, domain string) (_ bool, err error) {
	defer classify(ctx, &err)
	return db.bun.NewSelect().Model((*inboundRouteRow)(nil)).Where("ir.match LIKE ? ESCAPE '\\'", "%@"+escapeLike(domain)).Exists(ctx)
}

// escapeLike escapes LIKE's wildcards.
func escapeLike(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == '_' || s[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// InsertInboundRoute inserts a route; a match routed already is CodeConflict.
func (t *Tx) InsertInboundRoute(ctx context.Context, r *sendoka.InboundRoute) error {
	row := &inboundRouteRow{ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, Match: r.Match,
		ForwardWebhook: r.ForwardWebhook, CreatedAt: ts(r.CreatedAt)}
	_, err := t.tx.NewInsert().Model(row).Returning("NULL").Exec(ctx)
	return conflict(err, "inbound route")
}

// DeleteInboundRoute deletes a route of the scope's namespace.
func (t *Tx) DeleteInboundRoute(ctx context.Context, scope sendoka.Scope, id string) error {
	q := t.tx.NewDelete().Model((*inboundRouteRow)(nil)).Where("id = ?", id)
	ok, err := affected(inNamespace(q, "", scope).Exec(ctx))
	if err != nil {
		return err
	}
	if !ok {
		return sendoka.NotFound("inbound route")
	}
	return nil
}

type inboundEmailRow struct {
	bun.BaseModel `bun:"table:inbound_emails,alias:ie"`

	ID          string    `bun:"id,pk"`
	OrgID       string    `bun:"org_id"`
	TenantID    string    `bun:"tenant_id,nullzero"`
	RouteID     string    `bun:"route_id"`
	MailFrom    string    `bun:"mail_from"`
	RcptTo      string    `bun:"rcpt_to"`
	FromHeader  string    `bun:"from_header"`
	ToHeader    string    `bun:"to_header"`
	CcHeader    string    `bun:"cc_header"`
	Subject     string    `bun:"subject"`
	MessageID   string    `bun:"message_id"`
	InReplyTo   string    `bun:"in_reply_to"`
	TextBody    string    `bun:"text_body"`
	HTMLBody    string    `bun:"html_body"`
	Headers     string    `bun:"headers"`
	Attachments string    `bun:"attachments"`
	Size        int64     `bun:"size"`
	CreatedAt   timestamp `bun:"created_at"`
}

type inboundAttachmentRow struct {
	bun.BaseModel `bun:"table:inbound_attachments,alias:ia"`

	EmailID  string `bun:"email_id,pk"`
	Position int    `bun:"position,pk"`
	Content  []byte `bun:"content"`
}

// listColumns are the columns a listing reads: no bodies, no headers.
var inboundListColumns = []string{"id", "org_id", "tenant_id", "route_id", "mail_from", "rcpt_to", "from_header",
	"to_header", "cc_header", "subject", "message_id", "in_reply_to", "attachments", "size", "created_at"}

func jsonList[T any](v []T) string {
	if v == nil {
		v = []T{}
	}
	b, _ := json.Marshal(v) // lists of strings and plain structs always encode
	return string(b)
}

func (r *inboundEmailRow) email() (*sendoka.InboundEmail, error) {
	e := &sendoka.InboundEmail{ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, RouteID: r.RouteID, CreatedAt: r.CreatedAt.Time}
	e.MailFrom, e.RcptTo, e.From, e.Subject = r.MailFrom, r.RcptTo, r.FromHeader, r.Subject
	e.MessageID, e.InReplyTo, e.Text, e.HTML, e.Size = r.MessageID, r.InReplyTo, r.TextBody, r.HTMLBody, r.Size
	for col, dst := range map[string]any{r.ToHeader: &e.To, r.CcHeader: &e.Cc, r.Headers: &e.Headers, r.Attachments: &e.Attachments} {
		if err := fromJSON(col, dst); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// GetInboundEmail returns an email of the scope's namespace, or CodeNotFound.
func (db *DB) GetInboundEmail(ctx context.Context, scope sendoka.Scope, id string) (_ *sendoka.InboundEmail, err error) {
	defer classify(ctx, &err)
	var row inboundEmailRow
	if err := inNamespace(db.bun.NewSelect().Model(&row), "ie.", scope).Where("ie.id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("inbound email")
		}
		return nil, err
	}
	return row.email()
}

// ListInboundEmails returns one page of the namespace's emails, newest first, without their
// bodies and headers.
func (db *DB) ListInboundEmails(ctx context.Context, scope sendoka.Scope, pq sendoka.PageQuery) (_ *sendoka.InboundEmailPage, err error) {
	defer classify(ctx, &err)
	var rows []inboundEmailRow
	q := db.bun.NewSelect().Model(&rows).Column(inboundListColumns...)
	if err := keyset(inNamespace(q, "ie.", scope), "ie", pq).Scan(ctx); err != nil {
		return nil, err
	}
	page := &sendoka.InboundEmailPage{}
	if limit := pageLimit(pq); len(rows) > limit {
		page.HasMore, rows = true, rows[:limit]
	}
	for i := range rows {
		e, err := rows[i].email()
		if err != nil {
			return nil, err
		}
		page.Emails = append(page.Emails, e)
	}
	return page, nil
}

// InboundAttachmentContent returns the content of an attachment of an email in the scope's
// namespace.
func (db *DB) InboundAttachmentContent(ctx context.Context, scope sendoka.Scope, emailID string, n int) (_ []byte, err error) {
	defer classify(ctx, &err)
	var row inboundAttachmentRow
	owner := inNamespace(db.bun.NewSelect().Model((*inboundEmailRow)(nil)).Column("ie.id"), "ie.", scope).Where("ie.id = ?", emailID)
	err = db.bun.NewSelect().Model(&row).Where("ia.email_id IN (?)", owner).Where("ia.position = ?", n).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sendoka.NotFound("attachment")
	}
	if err != nil {
		return nil, err
	}
	if row.Content == nil {
		row.Content = []byte{}
	}
	return row.Content, nil
}

// InsertInboundEmail inserts an email and the contents of its attachments.
func (t *Tx) InsertInboundEmail(ctx context.Context, e *sendoka.InboundEmail) error {
	row := &inboundEmailRow{ID: e.ID, OrgID: e.OrgID, TenantID: e.TenantID, RouteID: e.RouteID, MailFrom: e.MailFrom,
		RcptTo: e.RcptTo, FromHeader: e.From, ToHeader: jsonList(e.To), CcHeader: jsonList(e.Cc), Subject: e.Subject,
		MessageID: e.MessageID, InReplyTo: e.InReplyTo, TextBody: e.Text, HTMLBody: e.HTML, Headers: jsonList(e.Headers),
		Attachments: jsonList(e.Attachments), Size: e.Size, CreatedAt: ts(e.CreatedAt)}
	if _, err := t.tx.NewInsert().Model(row).Returning("NULL").Exec(ctx); err != nil {
		return conflict(err, "inbound email")
	}
	for i, a := range e.Attachments {
		content := a.Content
		if content == nil {
			content = []byte{}
		}
		ar := &inboundAttachmentRow{EmailID: e.ID, Position: i, Content: content}
		if _, err := t.tx.NewInsert().Model(ar).Returning("NULL").Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// DeleteInboundEmailsBefore deletes the oldest inbound emails before beforeID; their
// attachments go with them (ON DELETE CASCADE).
func (db *DB) DeleteInboundEmailsBefore(ctx context.Context, beforeID string, limit int) (_ int, err error) {
	defer classify(ctx, &err)
	sub := db.bun.NewSelect().TableExpr("inbound_emails").Column("id").
		Where("id < ?", beforeID).OrderExpr("id ASC").Limit(int64(limit))
	res, err := db.bun.NewDelete().TableExpr("inbound_emails").Where("id IN (?)", sub).Exec(ctx)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
