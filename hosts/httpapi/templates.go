package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

const tagTemplates = "Templates"

// registerTemplates adds the template operations: create, list, get, update, delete.
func registerTemplates(api huma.API, r *registrar, h *handlers) {
	huma.Register(api, r.op(http.MethodPost, "/api/v1/templates", "create-template", tagTemplates, "Create a template",
		"Stores a template. Every field is parsed now: a template that does not parse is a 422 here, "+
			"never at send time. The response lists the variables it uses. Needs templates:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.createTemplate)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/templates", "list-templates", tagTemplates, "List templates",
		"Templates newest first, a page at a time: pass next_cursor as cursor for the next page.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.listTemplates)
	huma.Register(api, r.op(http.MethodPost, "/api/v1/templates/preview", "preview-template", tagTemplates, "Preview a template",
		"Renders a draft template with sample variables, without storing anything: the rendered "+
			"subject and bodies, the variables the draft uses, and those the sample lacks (a send "+
			"would be refused with TEMPLATE_MISSING_VARIABLES). The draft is parsed as create "+
			"parses it: one that does not parse is a 422. The dashboard's editor uses it. Needs templates:read.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.previewTemplate)
	huma.Register(api, r.op(http.MethodGet, "/api/v1/templates/{id_or_slug}", "get-template", tagTemplates, "Get a template",
		"One template, by id (tpl_…) or by slug.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.getTemplate)
	huma.Register(api, r.op(http.MethodPatch, "/api/v1/templates/{id_or_slug}", "update-template", tagTemplates, "Update a template",
		"Changes the fields given (an empty string clears one); the channel never changes. Messages "+
			"already accepted keep the content they were rendered with. Needs templates:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.updateTemplate)
	huma.Register(api, r.op(http.MethodDelete, "/api/v1/templates/{id_or_slug}", "delete-template", tagTemplates, "Delete a template",
		"Removes a template; its slug is free again. Messages sent with it are unaffected. Needs templates:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.deleteTemplate)
}

// Template is a template as the API shows it.
type Template struct {
	ID        string   `json:"id" example:"tpl_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Slug      string   `json:"slug" example:"welcome-v2"`
	Channel   string   `json:"channel" enum:"email,sms" example:"email"`
	Name      *string  `json:"name" doc:"Human-readable name, or null"`
	Subject   *string  `json:"subject" doc:"Email subject, or null" example:"Welcome, {{name}}"`
	HTML      *string  `json:"html" doc:"Email HTML body, or null" example:"<p>Hi {{name}}</p>"`
	Text      *string  `json:"text" doc:"Email plain-text body, or null"`
	Body      *string  `json:"body" doc:"SMS body, or null"`
	Variables []string `json:"variables" nullable:"false" doc:"Variables the template uses, in order of first use; dotted names reach into objects" example:"[\"name\",\"order.id\"]"`
	Version   int      `json:"version" doc:"1 at creation, one more at every update"`
	CreatedAt string   `json:"created_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
	UpdatedAt string   `json:"updated_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
}

func templateObject(t *sendoka.Template) *Template {
	return &Template{
		ID: t.ID, Slug: t.Slug, Channel: string(t.Channel), Name: nullable(t.Name),
		Subject: nullable(t.Subject), HTML: nullable(t.HTML), Text: nullable(t.Text), Body: nullable(t.Body),
		Variables: nonNil(t.Variables), Version: t.Version,
		CreatedAt: formatTime(t.CreatedAt), UpdatedAt: formatTime(t.UpdatedAt),
	}
}

// TemplateList is one page of templates, newest first.
type TemplateList struct {
	Data       []*Template `json:"data" nullable:"false"`
	HasMore    bool        `json:"has_more" doc:"Whether another page follows"`
	NextCursor *string     `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// TemplateDeleted answers a delete.
type TemplateDeleted struct {
	ID      string `json:"id" example:"tpl_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Deleted bool   `json:"deleted" example:"true"`
}

// TemplatePreviewRequest is a draft template and the sample variables to render it with.
type TemplatePreviewRequest struct {
	Channel   sendoka.Channel `json:"channel,omitempty" enum:"email,sms" doc:"email (default) or sms" example:"email"`
	Subject   string          `json:"subject,omitempty" doc:"Email subject" example:"Welcome, {{name}}"`
	HTML      string          `json:"html,omitempty" doc:"Email HTML body" example:"<p>Hi {{name}}, your plan is {{plan}}.</p>"`
	Text      string          `json:"text,omitempty" doc:"Email plain-text body"`
	Body      string          `json:"body,omitempty" doc:"SMS body"`
	Variables map[string]any  `json:"variables,omitempty" doc:"Sample values for the draft's {{variables}}; nested objects for dotted names"`
}

// TemplatePreview is a draft rendered with sample variables.
type TemplatePreview struct {
	Subject   string   `json:"subject" doc:"The rendered subject (email)" example:"Welcome, Ada"`
	HTML      string   `json:"html" doc:"The rendered HTML (email)" example:"<p>Hi Ada, your plan is .</p>"`
	Text      string   `json:"text" doc:"The rendered text (email)"`
	Body      string   `json:"body" doc:"The rendered body (SMS)"`
	Variables []string `json:"variables" nullable:"false" doc:"Variables the draft uses, in order of first use" example:"[\"name\",\"plan\"]"`
	Missing   []string `json:"missing" nullable:"false" doc:"Variables the sample does not supply" example:"[\"plan\"]"`
}

type previewTemplateInput struct {
	jsonBody[TemplatePreviewRequest]
}

type templatePreviewOutput struct {
	Body *TemplatePreview
}

func (h *handlers) previewTemplate(ctx context.Context, in *previewTemplateInput) (*templatePreviewOutput, error) {
	d := &sendoka.TemplateRequest{Channel: in.Body.Channel, Subject: in.Body.Subject, HTML: in.Body.HTML, Text: in.Body.Text, Body: in.Body.Body}
	if err := rejectNUL(d); err != nil {
		return nil, fail(ctx, err)
	}
	pv, err := h.c.PreviewTemplate(ctx, PrincipalFrom(ctx), d, in.Body.Variables)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &templatePreviewOutput{Body: &TemplatePreview{Subject: pv.Subject, HTML: pv.HTML, Text: pv.Text, Body: pv.Body,
		Variables: nonNil(pv.Variables), Missing: nonNil(pv.Missing)}}, nil
}

type createTemplateInput struct {
	jsonBody[sendoka.TemplateRequest]
}

type templateRefInput struct {
	IDOrSlug string `path:"id_or_slug" doc:"Template id (tpl_…) or slug" example:"welcome-v2"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the template of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level templates" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

type updateTemplateInput struct {
	IDOrSlug string `path:"id_or_slug" doc:"Template id (tpl_…) or slug" example:"welcome-v2"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the template of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level templates" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	jsonBody[sendoka.TemplateUpdate]
}

type listTemplatesInput struct {
	Limit    int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size, 1-100"`
	Cursor   string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page"`
	Channel  string `query:"channel" enum:"email,sms" doc:"Only templates of this channel"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: list this tenant's templates (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key lists the org-level templates" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

type templateOutput struct {
	Body *Template
}

type templateListOutput struct {
	Body *TemplateList
}

type templateDeletedOutput struct {
	Body *TemplateDeleted
}

func (h *handlers) createTemplate(ctx context.Context, in *createTemplateInput) (*templateOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	t, err := h.c.CreateTemplate(ctx, PrincipalFrom(ctx), &in.Body)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &templateOutput{Body: templateObject(t)}, nil
}

func (h *handlers) getTemplate(ctx context.Context, in *templateRefInput) (*templateOutput, error) {
	if hasNUL(in.IDOrSlug) {
		return nil, fail(ctx, sendoka.NotFound("template"))
	}
	p, err := h.c.ForTenant(ctx, PrincipalFrom(ctx), in.TenantID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	t, err := h.c.GetTemplate(ctx, p, in.IDOrSlug)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &templateOutput{Body: templateObject(t)}, nil
}

func (h *handlers) updateTemplate(ctx context.Context, in *updateTemplateInput) (*templateOutput, error) {
	if hasNUL(in.IDOrSlug) {
		return nil, fail(ctx, sendoka.NotFound("template"))
	}
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	p, err := h.c.ForTenant(ctx, PrincipalFrom(ctx), in.TenantID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	t, err := h.c.UpdateTemplate(ctx, p, in.IDOrSlug, &in.Body)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &templateOutput{Body: templateObject(t)}, nil
}

func (h *handlers) deleteTemplate(ctx context.Context, in *templateRefInput) (*templateDeletedOutput, error) {
	if hasNUL(in.IDOrSlug) {
		return nil, fail(ctx, sendoka.NotFound("template"))
	}
	p, err := h.c.ForTenant(ctx, PrincipalFrom(ctx), in.TenantID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	t, err := h.c.GetTemplate(ctx, p, in.IDOrSlug)
	if err != nil {
		return nil, fail(ctx, err)
	}
	if err := h.c.DeleteTemplate(ctx, p, t.ID); err != nil {
		return nil, fail(ctx, err)
	}
	return &templateDeletedOutput{Body: &TemplateDeleted{ID: t.ID, Deleted: true}}, nil
}

func (h *handlers) listTemplates(ctx context.Context, in *listTemplatesInput) (*templateListOutput, error) {
	if in.Cursor != "" {
		if cur, err := sendoka.DecodeCursor(in.Cursor); err == nil && hasNUL(cur.ID) {
			return nil, fail(ctx, fieldErr(sendoka.FieldInvalid, "malformed cursor", "cursor"))
		}
	}
	page, err := h.c.ListTemplates(ctx, PrincipalFrom(ctx), sendoka.TemplateListParams{
		Limit: in.Limit, Cursor: in.Cursor, Channel: sendoka.Channel(in.Channel), TenantID: in.TenantID,
	})
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &TemplateList{Data: make([]*Template, len(page.Templates)), HasMore: page.HasMore, NextCursor: nullable(page.NextCursor)}
	for i, t := range page.Templates {
		out.Data[i] = templateObject(t)
	}
	return &templateListOutput{Body: out}, nil
}

// fieldErr is a VALIDATION_ERROR with one problem.
func fieldErr(code, message string, path ...any) error {
	var v sendoka.Validation
	v.Add(code, message, path...)
	return v.Err()
}
