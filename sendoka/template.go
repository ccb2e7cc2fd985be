package sendoka

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Template is reusable message content, referenced by its slug when sending. Email templates
// carry Subject, HTML and Text; SMS templates carry Body. Each may use {{variables}}.
type Template struct {
	ID string
	// OrgID and TenantID are the template's namespace: a slug is unique within it.
	OrgID    string
	TenantID string // "" for an org-level template
	Slug     string
	Channel  Channel
	Name     string

	Subject string
	HTML    string
	Text    string
	Body    string

	// Variables are the dotted names the content uses, in order of first use (subject, then
	// html, then text; or body). Computed by the core at save time.
	Variables []string
	// Version is 1 at creation and grows by one with every update. Compiled forms are cached
	// by (ID, Version), so a node never renders an outdated copy of a template another node
	// changed.
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TemplateStore is the part of Store that reads templates.
//
// Templates live in the namespace of their (OrgID, TenantID): unlike messages, a Scope with
// an empty TenantID means the org-level templates only (TenantID ""), not every tenant's, so
// a slug names exactly one template for any caller.
type TemplateStore interface {
	// GetTemplate returns the template with that id in the scope's namespace, or CodeNotFound.
	GetTemplate(ctx context.Context, scope Scope, id string) (*Template, error)
	// GetTemplateBySlug returns the template with that slug in the scope's namespace, or
	// CodeNotFound.
	GetTemplateBySlug(ctx context.Context, scope Scope, slug string) (*Template, error)
	// ListTemplates returns one page of the namespace's templates, newest first: ordered by
	// (CreatedAt, ID) descending, strictly after q.After when it is set. It returns at most
	// q.Limit templates, and HasMore tells whether more follow.
	ListTemplates(ctx context.Context, scope Scope, q TemplateQuery) (*TemplatePage, error)
}

// TemplateTx is the part of Tx that writes templates.
type TemplateTx interface {
	// InsertTemplate inserts a template. A slug already used in the template's namespace (or a
	// duplicate id) is CodeConflict.
	InsertTemplate(ctx context.Context, t *Template) error
	// UpdateTemplate writes every field of t except ID, OrgID, TenantID, Channel and CreatedAt,
	// if the stored template (matched by ID within t's namespace) still has version
	// fromVersion, and reports whether it did. A slug taken by another template of the
	// namespace is CodeConflict.
	UpdateTemplate(ctx context.Context, t *Template, fromVersion int) (bool, error)
	// DeleteTemplate removes a template of the scope's namespace, or returns CodeNotFound.
	DeleteTemplate(ctx context.Context, scope Scope, id string) error
}

// TemplateQuery selects templates for ListTemplates. Zero fields do not filter.
type TemplateQuery struct {
	Channel Channel
	Limit   int // 1..100; the core always sets it
	After   *Cursor
}

// TemplatePage is one page of ListTemplates.
type TemplatePage struct {
	Templates []*Template
	HasMore   bool
}

// TemplateRequest is the body of POST /api/v1/templates.
type TemplateRequest struct {
	Slug    string  `json:"slug" doc:"Unique per org: lower-case letters, digits, _ and -, starting with a letter or digit, at most 64 characters" example:"welcome-v2" maxLength:"64"`
	Channel Channel `json:"channel" doc:"email or sms" enum:"email,sms" example:"email"`
	Name    string  `json:"name,omitempty" doc:"A human-readable name" maxLength:"200"`
	Subject string  `json:"subject,omitempty" doc:"Email subject; {{variables}} are inserted as is" example:"Welcome, {{name}}"`
	HTML    string  `json:"html,omitempty" doc:"Email HTML body; {{variables}} are HTML-escaped, {{{variables}}} are not" example:"<p>Hi {{name}}, your plan is {{plan}}.</p>"`
	Text    string  `json:"text,omitempty" doc:"Email plain-text body"`
	Body    string  `json:"body,omitempty" doc:"SMS body"`
	// TenantID creates the template in a tenant's namespace (platform mode): see
	// Client.ForTenant.
	TenantID string `json:"tenant_id,omitempty" doc:"Platform mode: create the template for this tenant (platform-root keys); a tenant-bound key may only name its own" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S" maxLength:"64"`
}

// TemplateUpdate is the body of PATCH /api/v1/templates/{id_or_slug}: a nil field is left
// as it is, an empty string clears the field. The channel never changes.
type TemplateUpdate struct {
	Slug    *string `json:"slug,omitempty" doc:"New slug" maxLength:"64"`
	Name    *string `json:"name,omitempty" maxLength:"200"`
	Subject *string `json:"subject,omitempty"`
	HTML    *string `json:"html,omitempty"`
	Text    *string `json:"text,omitempty"`
	Body    *string `json:"body,omitempty"`
}

// Template limits.
const (
	MaxTemplateSlug    = 64
	MaxTemplateName    = 200
	MaxTemplateContent = 512 << 10 // bytes per content field
)

// CreateTemplate validates and stores a new template. Every content field must parse; the
// variables it uses are returned in Variables. A slug already taken is CodeConflict.
func (c *Client) CreateTemplate(ctx context.Context, p *Principal, req *TemplateRequest) (*Template, error) {
	if err := p.require(PermissionTemplatesWrite); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, req.TenantID)
	if err != nil {
		return nil, err
	}
	now := c.now()
	t := &Template{
		ID: NewID(PrefixTemplate, now), OrgID: p.OrgID, TenantID: p.TenantID,
		Slug: req.Slug, Channel: req.Channel, Name: req.Name,
		Subject: req.Subject, HTML: req.HTML, Text: req.Text, Body: req.Body,
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	var v Validation
	if req.Channel != ChannelEmail && req.Channel != ChannelSMS {
		v.Add(FieldInvalid, "must be email or sms", "channel")
	}
	if _, err := validateTemplate(&v, t); err != nil {
		return nil, err
	}
	err = c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.InsertTemplate(ctx, t) })
	if err != nil {
		return nil, slugConflict(err, t.Slug)
	}
	return t, nil
}

// GetTemplate returns a template by id or by slug.
func (c *Client) GetTemplate(ctx context.Context, p *Principal, idOrSlug string) (*Template, error) {
	if err := p.require(templateReadPermissions...); err != nil {
		return nil, err
	}
	return c.getTemplate(ctx, p.Scope(), idOrSlug)
}

// getTemplate looks a reference up: ids carry upper-case letters, which a slug never has, so
// the two cannot be confused.
func (c *Client) getTemplate(ctx context.Context, scope Scope, idOrSlug string) (*Template, error) {
	var t *Template
	var err error
	if validSlug(idOrSlug) {
		t, err = c.store.GetTemplateBySlug(ctx, scope, idOrSlug)
	} else {
		t, err = c.store.GetTemplate(ctx, scope, idOrSlug)
	}
	if err != nil {
		return nil, AsError(err)
	}
	return t, nil
}

// TemplateListParams are the query parameters of GET /api/v1/templates.
type TemplateListParams struct {
	Limit   int    // 1..100, default 20
	Cursor  string // the next_cursor of a previous page
	Channel Channel
	// TenantID lists a tenant's templates (platform mode): see Client.ForTenant. Without it
	// a platform-root key lists the org-level templates.
	TenantID string
}

// TemplateList is one page of templates.
type TemplateList struct {
	Templates  []*Template
	HasMore    bool
	NextCursor string // "" when there is no next page
}

// ListTemplates returns a page of templates, newest first.
func (c *Client) ListTemplates(ctx context.Context, p *Principal, lp TemplateListParams) (*TemplateList, error) {
	if err := p.require(templateReadPermissions...); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, lp.TenantID)
	if err != nil {
		return nil, err
	}
	var v Validation
	q := TemplateQuery{Channel: lp.Channel, Limit: lp.Limit}
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	q.After = checkPage(&v, q.Limit, lp.Cursor)
	if lp.Channel != "" && lp.Channel != ChannelEmail && lp.Channel != ChannelSMS {
		v.Add(FieldInvalid, "must be email or sms", "channel")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	page, err := c.store.ListTemplates(ctx, p.Scope(), q)
	if err != nil {
		return nil, AsError(err)
	}
	out := &TemplateList{Templates: page.Templates, HasMore: page.HasMore}
	if page.HasMore && len(page.Templates) > 0 {
		last := page.Templates[len(page.Templates)-1]
		out.NextCursor = EncodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return out, nil
}

// UpdateTemplate changes the fields u sets. Messages already accepted keep the content they
// were rendered with; later sends use the new content. A slug already taken is CodeConflict.
func (c *Client) UpdateTemplate(ctx context.Context, p *Principal, idOrSlug string, u *TemplateUpdate) (*Template, error) {
	if err := p.require(PermissionTemplatesWrite); err != nil {
		return nil, err
	}
	// A concurrent update makes the conditional write miss; read again and re-apply, a few
	// times, rather than overwrite the other update.
	for attempt := 0; ; attempt++ {
		t, err := c.getTemplate(ctx, p.Scope(), idOrSlug)
		if err != nil {
			return nil, err
		}
		from := t.Version
		applyTemplateUpdate(t, u)
		t.Version = from + 1
		t.UpdatedAt = c.now()
		var v Validation
		if _, err := validateTemplate(&v, t); err != nil {
			return nil, err
		}
		var ok bool
		err = c.inTx(ctx, func(ctx context.Context, tx Tx) error {
			var err error
			ok, err = tx.UpdateTemplate(ctx, t, from)
			return err
		})
		if err != nil {
			return nil, slugConflict(err, t.Slug)
		}
		if ok {
			c.templates.forget(t.ID)
			return t, nil
		}
		if attempt == 4 {
			return nil, Errorf(CodeConflict, "the template is being changed by another request; try again")
		}
	}
}

func applyTemplateUpdate(t *Template, u *TemplateUpdate) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&t.Slug, u.Slug)
	set(&t.Name, u.Name)
	set(&t.Subject, u.Subject)
	set(&t.HTML, u.HTML)
	set(&t.Text, u.Text)
	set(&t.Body, u.Body)
}

// DeleteTemplate removes a template. Messages already sent with it are unaffected.
func (c *Client) DeleteTemplate(ctx context.Context, p *Principal, idOrSlug string) error {
	if err := p.require(PermissionTemplatesWrite); err != nil {
		return err
	}
	t, err := c.getTemplate(ctx, p.Scope(), idOrSlug)
	if err != nil {
		return err
	}
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.DeleteTemplate(ctx, p.Scope(), t.ID) }); err != nil {
		return err
	}
	c.templates.forget(t.ID)
	return nil
}

// templateReadPermissions: templates:read, and any key that may send or read messages (a
// send names templates by slug), may look templates up.
var templateReadPermissions = []Permission{PermissionTemplatesRead, PermissionEmailsSend, PermissionSMSSend, PermissionEmailsRead, PermissionSMSRead}

// validateTemplate checks a template about to be saved, compiles it and sets its Variables.
func validateTemplate(v *Validation, t *Template) (*compiledSet, error) {
	switch {
	case t.Slug == "":
		v.Add(FieldRequired, "Required", "slug")
	case !validSlug(t.Slug):
		v.Add(FieldInvalidString, "lower-case letters, digits, _ and -, starting with a letter or digit, at most 64 characters", "slug")
	}
	if utf8.RuneCountInString(t.Name) > MaxTemplateName {
		v.Add(FieldTooBig, "at most 200 characters", "name")
	}
	fields := []struct {
		name string
		val  string
	}{{"subject", t.Subject}, {"html", t.HTML}, {"text", t.Text}, {"body", t.Body}}
	for _, f := range fields {
		if len(f.val) > MaxTemplateContent {
			v.Add(FieldTooBig, "at most 512 KiB", f.name)
		} else if !utf8.ValidString(f.val) {
			v.Add(FieldInvalidString, "must be valid UTF-8", f.name)
		}
	}
	switch t.Channel {
	case ChannelEmail:
		if t.Body != "" {
			v.Add(FieldInvalid, "an email template has subject, html and text, not body", "body")
		}
		if t.HTML == "" && t.Text == "" {
			v.Add(FieldRequired, "html or text is required", "html")
		}
		if hasControl(t.Subject) {
			// As a sent subject: refused now rather than at every send.
			v.Add(FieldInvalid, "must not contain line breaks or control characters", "subject")
		}
	case ChannelSMS:
		for _, f := range fields[:3] {
			if f.val != "" {
				v.Add(FieldInvalid, "an SMS template has body only", f.name)
			}
		}
		if t.Body == "" {
			v.Add(FieldRequired, "Required", "body")
		}
	}
	cs := &compiledSet{version: t.Version}
	for i, dst := range []**compiledTemplate{&cs.subject, &cs.html, &cs.text, &cs.body} {
		ct, err := compileTemplate(fields[i].val)
		if err != nil {
			v.Add(FieldInvalid, "template does not parse: "+err.Error(), fields[i].name)
			continue
		}
		*dst = ct
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	t.Variables = cs.variables()
	return cs, nil
}

// validSlug reports whether s matches [a-z0-9][a-z0-9_-]* and is at most 64 characters.
func validSlug(s string) bool {
	if s == "" || len(s) > MaxTemplateSlug {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= '0' && b <= '9':
		case (b == '_' || b == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// slugConflict names the slug in the store's unique-slug conflict: CodeConflict, as for
// every name already taken (a sender, a domain, a tenant slug).
func slugConflict(err error, slug string) error {
	if ErrorCode(err) != CodeConflict {
		return err
	}
	return &Error{Code: CodeConflict, Message: "a template with slug " + slug + " already exists", Err: err}
}

// compiledSet is a template's content, parsed.
type compiledSet struct {
	version                   int
	subject, html, text, body *compiledTemplate
}

func (cs *compiledSet) variables() []string {
	seen := map[string]bool{}
	out := []string{}
	for _, ct := range []*compiledTemplate{cs.subject, cs.html, cs.text, cs.body} {
		out = ct.variables(seen, out)
	}
	return out
}

// templateCache keeps compiled templates by id, so a send never parses a template. An entry
// is valid for one Version: a template changed elsewhere (another node) is recompiled on its
// next use, and this node drops the entry as soon as it updates or deletes the template.
// The zero value is ready to use.
type templateCache struct {
	mu sync.Mutex
	m  map[string]*compiledSet
}

// maxCachedTemplates bounds the cache; past it, an arbitrary entry makes room.
const maxCachedTemplates = 4096

func (tc *templateCache) get(t *Template) (*compiledSet, error) {
	tc.mu.Lock()
	cs, ok := tc.m[t.ID]
	tc.mu.Unlock()
	if ok && cs.version == t.Version {
		return cs, nil
	}
	// Stored templates were validated when saved; a failure here means the stored data was
	// changed behind the core's back.
	var v Validation
	cs, err := validateTemplate(&v, t)
	if err != nil {
		return nil, err
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.m == nil {
		tc.m = map[string]*compiledSet{}
	}
	if len(tc.m) >= maxCachedTemplates {
		for id := range tc.m {
			delete(tc.m, id)
			break
		}
	}
	tc.m[t.ID] = cs
	return cs, nil
}

func (tc *templateCache) forget(id string) {
	tc.mu.Lock()
	delete(tc.m, id)
	tc.mu.Unlock()
}

// templateLookup resolves the template slugs of one call: a batch that names the same
// template in every row reads it once.
type templateLookup map[string]*Template

// lookup returns the template a send names, checked against the send's channel.
func (c *Client) lookupTemplate(ctx context.Context, p *Principal, slug string, ch Channel, tl templateLookup) (*Template, error) {
	t, ok := tl[slug]
	if !ok {
		var err error
		if validSlug(slug) {
			t, err = c.store.GetTemplateBySlug(ctx, p.Scope(), slug)
		} else {
			err = NotFound("template")
		}
		if err != nil && ErrorCode(err) != CodeNotFound {
			return nil, AsError(err)
		}
		if tl != nil {
			tl[slug] = t // nil records "unknown" too
		}
	}
	var v Validation
	switch {
	case t == nil:
		v.Add(FieldInvalid, fmt.Sprintf("no template with slug %q", slug), "template")
	case t.Channel != ch:
		v.Add(FieldInvalid, fmt.Sprintf("template %q is an %s template, not %s", slug, t.Channel, ch), "template")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

// missingVariables collects the names a render could not fill, once each.
type missingVariables struct {
	seen  map[string]bool
	names []string
}

func (mv *missingVariables) add(names []string) {
	for _, n := range names {
		if mv.seen == nil {
			mv.seen = map[string]bool{}
		}
		if !mv.seen[n] {
			mv.seen[n] = true
			mv.names = append(mv.names, n)
		}
	}
}

// err is TEMPLATE_MISSING_VARIABLES with one field error per missing name; a dotted name
// becomes a path into variables (order.id is ["variables", "order", "id"]).
func (mv *missingVariables) err(slug string) error {
	if len(mv.names) == 0 {
		return nil
	}
	e := &Error{Code: CodeTemplateMissingVariables,
		Message: fmt.Sprintf("template %q needs variables that were not supplied: %s", slug, strings.Join(mv.names, ", "))}
	for _, n := range mv.names {
		path := []any{"variables"}
		for _, seg := range strings.Split(n, ".") {
			path = append(path, seg)
		}
		e.Fields = append(e.Fields, FieldError{Path: path, Code: FieldRequired, Message: "Required by template " + slug})
	}
	return e
}

// renderField fills *dst from the template when the call left it empty: fields given in the
// call win over the template's.
func renderField(dst *string, ct *compiledTemplate, vars map[string]any, escapeHTML bool, mv *missingVariables) {
	if *dst != "" || ct == nil {
		return
	}
	out, missing := ct.render(vars, escapeHTML)
	mv.add(missing)
	*dst = out
}

// noTemplateVariables rejects variables sent without a template: explicit beats silently
// ignoring them.
func noTemplateVariables(vars map[string]any) error {
	if vars == nil {
		return nil
	}
	var v Validation
	v.Add(FieldInvalid, "variables need a template", "variables")
	return v.Err()
}

// applyEmailTemplate returns req with subject, html and text taken from its template where
// the call left them empty, rendered with its variables (HTML-escaped in html only). A
// request without a template is returned as is.
func (c *Client) applyEmailTemplate(ctx context.Context, p *Principal, req *EmailRequest, tl templateLookup) (*EmailRequest, error) {
	if req.Template == "" {
		return req, noTemplateVariables(req.Variables)
	}
	t, err := c.lookupTemplate(ctx, p, req.Template, ChannelEmail, tl)
	if err != nil {
		return nil, err
	}
	cs, err := c.templates.get(t)
	if err != nil {
		return nil, err
	}
	out := *req
	var mv missingVariables
	renderField(&out.Subject, cs.subject, req.Variables, false, &mv)
	renderField(&out.HTML, cs.html, req.Variables, true, &mv)
	renderField(&out.Text, cs.text, req.Variables, false, &mv)
	if err := mv.err(t.Slug); err != nil {
		return nil, err
	}
	return &out, nil
}

// applySMSTemplate is applyEmailTemplate for SMS: the body comes from the template unless
// the call gives one.
func (c *Client) applySMSTemplate(ctx context.Context, p *Principal, req *SMSRequest, tl templateLookup) (*SMSRequest, error) {
	if req.Template == "" {
		return req, noTemplateVariables(req.Variables)
	}
	t, err := c.lookupTemplate(ctx, p, req.Template, ChannelSMS, tl)
	if err != nil {
		return nil, err
	}
	cs, err := c.templates.get(t)
	if err != nil {
		return nil, err
	}
	out := *req
	var mv missingVariables
	renderField(&out.Body, cs.body, req.Variables, false, &mv)
	if err := mv.err(t.Slug); err != nil {
		return nil, err
	}
	return &out, nil
}
