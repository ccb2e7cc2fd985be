package bunstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/uptrace/bun"

	"github.com/sendoka/sendoka/sendoka"
)

type templateRow struct {
	bun.BaseModel `bun:"table:templates,alias:tp"`

	ID        string    `bun:"id,pk"`
	OrgID     string    `bun:"org_id"`
	TenantID  string    `bun:"tenant_id,nullzero"`
	Slug      string    `bun:"slug"`
	Channel   string    `bun:"channel"`
	Name      string    `bun:"name"`
	Subject   string    `bun:"subject"`
	HTML      string    `bun:"html"`
	Text      string    `bun:"text_body"`
	Body      string    `bun:"body"`
	Variables string    `bun:"variables,nullzero"`
	Version   int       `bun:"version"`
	CreatedAt timestamp `bun:"created_at"`
	UpdatedAt timestamp `bun:"updated_at"`
}

// templateColumns are the columns UpdateTemplate writes.
var templateColumns = []string{"slug", "name", "subject", "html", "text_body", "body", "variables", "version", "updated_at"}

func newTemplateRow(t *sendoka.Template) (*templateRow, error) {
	r := &templateRow{
		ID: t.ID, OrgID: t.OrgID, TenantID: t.TenantID, Slug: t.Slug, Channel: string(t.Channel),
		Name: t.Name, Subject: t.Subject, HTML: t.HTML, Text: t.Text, Body: t.Body,
		Version: t.Version, CreatedAt: ts(t.CreatedAt), UpdatedAt: ts(t.UpdatedAt),
	}
	var err error
	r.Variables, err = sliceJSON(t.Variables)
	return r, err
}

func (r *templateRow) template() (*sendoka.Template, error) {
	t := &sendoka.Template{
		ID: r.ID, OrgID: r.OrgID, TenantID: r.TenantID, Slug: r.Slug, Channel: sendoka.Channel(r.Channel),
		Name: r.Name, Subject: r.Subject, HTML: r.HTML, Text: r.Text, Body: r.Body,
		Version: r.Version, CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time,
	}
	if err := fromJSON(r.Variables, &t.Variables); err != nil {
		return nil, err
	}
	return t, nil
}

// inNamespace filters a template query to the scope's namespace: the scope's tenant, or the
// org-level templates when the scope names none. COALESCE(tenant_id, ”) is the expression
// the templates indexes are built on. prefix qualifies the columns ("tp." in SELECTs; ""
// in UPDATE and DELETE, which the dialects alias differently).
func inNamespace[Q interface {
	Where(string, ...any) Q
}](q Q, prefix string, scope sendoka.Scope) Q {
	return q.Where(prefix+"org_id = ?", scope.OrgID).
		Where("COALESCE("+prefix+"tenant_id, '') = ?", scope.TenantID)
}

// GetTemplate returns a template of the scope's namespace by id, or CodeNotFound.
func (db *DB) GetTemplate(ctx context.Context, scope sendoka.Scope, id string) (_ *sendoka.Template, err error) {
	defer classify(ctx, &err)
	return db.getTemplate(ctx, scope, "tp.id = ?", id)
}

// GetTemplateBySlug returns a template of the scope's namespace by slug, or CodeNotFound.
func (db *DB) GetTemplateBySlug(ctx context.Context, scope sendoka.Scope, slug string) (_ *sendoka.Template, err error) {
	defer classify(ctx, &err)
	return db.getTemplate(ctx, scope, "tp.slug = ?", slug)
}

func (db *DB) getTemplate(ctx context.Context, scope sendoka.Scope, where string, arg string) (*sendoka.Template, error) {
	var row templateRow
	q := inNamespace(db.bun.NewSelect().Model(&row), "tp.", scope).Where(where, arg)
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, sendoka.NotFound("template")
		}
		return nil, err
	}
	return row.template()
}

// ListTemplates returns one page of the namespace's templates, newest first.
func (db *DB) ListTemplates(ctx context.Context, scope sendoka.Scope, tq sendoka.TemplateQuery) (_ *sendoka.TemplatePage, err error) {
	defer classify(ctx, &err)
	limit := tq.Limit
	if limit <= 0 {
		limit = sendoka.DefaultListLimit
	}
	var rows []templateRow
	q := inNamespace(db.bun.NewSelect().Model(&rows), "tp.", scope)
	if tq.Channel != "" {
		q = q.Where("tp.channel = ?", tq.Channel)
	}
	if c := tq.After; c != nil {
		// As ListMessages: the first condition is an index range on both databases.
		at := ts(c.CreatedAt)
		q = q.Where("tp.created_at <= ?", at).
			Where("(tp.created_at < ? OR tp.id < ?)", at, c.ID)
	}
	q = q.OrderExpr("tp.created_at DESC, tp.id DESC").Limit(int64(limit + 1))
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	page := &sendoka.TemplatePage{Templates: make([]*sendoka.Template, 0, min(len(rows), limit))}
	if len(rows) > limit {
		page.HasMore = true
		rows = rows[:limit]
	}
	for i := range rows {
		t, err := rows[i].template()
		if err != nil {
			return nil, err
		}
		page.Templates = append(page.Templates, t)
	}
	return page, nil
}

// InsertTemplate inserts a template. A slug taken in its namespace is CodeConflict.
func (t *Tx) InsertTemplate(ctx context.Context, tpl *sendoka.Template) error {
	row, err := newTemplateRow(tpl)
	if err != nil {
		return err
	}
	_, err = t.tx.NewInsert().Model(row).Returning("NULL").Exec(ctx)
	return conflict(err, "template")
}

// UpdateTemplate writes a template's mutable columns if its stored version is fromVersion.
func (t *Tx) UpdateTemplate(ctx context.Context, tpl *sendoka.Template, fromVersion int) (bool, error) {
	row, err := newTemplateRow(tpl)
	if err != nil {
		return false, err
	}
	scope := sendoka.Scope{OrgID: tpl.OrgID, TenantID: tpl.TenantID}
	q := t.tx.NewUpdate().Model(row).Column(templateColumns...).
		Where("id = ?", tpl.ID).Where("version = ?", fromVersion)
	res, err := inNamespace(q, "", scope).Exec(ctx)
	if err != nil {
		return false, conflict(err, "template")
	}
	return affected(res, nil)
}

// DeleteTemplate removes a template of the scope's namespace, or returns CodeNotFound.
func (t *Tx) DeleteTemplate(ctx context.Context, scope sendoka.Scope, id string) error {
	q := t.tx.NewDelete().Model((*templateRow)(nil)).Where("id = ?", id)
	res, err := inNamespace(q, "", scope).Exec(ctx)
	ok, err := affected(res, err)
	if err != nil {
		return err
	}
	if !ok {
		return sendoka.NotFound("template")
	}
	return nil
}
