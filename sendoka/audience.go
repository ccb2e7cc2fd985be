package sendoka

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Audience is a named list of contacts that a broadcast is sent to (newsletters,
// announcements). Like a template it lives in the namespace of its (OrgID, TenantID): a Scope
// with an empty TenantID means the org-level audiences only.
type Audience struct {
	ID          string
	OrgID       string
	TenantID    string // "" for an org-level audience
	Name        string
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time

	// Contacts and Unsubscribed count the audience's contacts, and those of them that
	// unsubscribed. Filled by Client.GetAudience only.
	Contacts, Unsubscribed int
}

// AudienceStore is the part of Store that reads audiences and their contacts.
type AudienceStore interface {
	// GetAudience returns the audience with that id in the scope's namespace (as templates'),
	// with its contact counts, or CodeNotFound.
	GetAudience(ctx context.Context, scope Scope, id string) (*Audience, error)
	// ListAudiences returns one page of the namespace's audiences, newest first ((CreatedAt,
	// ID) descending, strictly after q.After when set), at most q.Limit of them. Counts are
	// not filled.
	ListAudiences(ctx context.Context, scope Scope, q AudienceQuery) (*AudiencePage, error)
	// ListContacts returns one page of an audience's contacts, newest first ((CreatedAt, ID)
	// descending, strictly after q.After when set), at most q.Limit of them. The core has
	// checked that the audience is in the caller's scope.
	ListContacts(ctx context.Context, audienceID string, q ContactQuery) (*ContactPage, error)
	// GetContact returns a contact of the audience, or CodeNotFound.
	GetContact(ctx context.Context, audienceID, contactID string) (*Contact, error)
	// GetAudienceByID returns an audience by id whatever its scope (for unsubscribe links,
	// which carry no key), without its counts, or CodeNotFound.
	GetAudienceByID(ctx context.Context, id string) (*Audience, error)
}

// AudienceTx is the part of Tx that writes audiences and their contacts.
type AudienceTx interface {
	// InsertAudience inserts an audience.
	InsertAudience(ctx context.Context, a *Audience) error
	// UpdateAudience writes Name, Description and UpdatedAt of the audience matched by ID
	// within a's namespace, or returns CodeNotFound.
	UpdateAudience(ctx context.Context, a *Audience) error
	// DeleteAudience removes an audience of the scope's namespace and all its contacts, or
	// returns CodeNotFound.
	DeleteAudience(ctx context.Context, scope Scope, id string) error
	// UpsertContacts adds contacts to their audience, or merges them into the contact
	// already there with the same key: the email, or the phone for a contact without an
	// email (the core gives no two contacts of one call the same key). A merge keeps the
	// stored contact's ID, CreatedAt and unsubscription, and replaces each of Phone,
	// FirstName, LastName and Data that the new contact sets (non-empty, non-nil). Rows are
	// written with multi-row statements that each carry at most 1 MiB of values. It returns
	// the stored contacts, in the order given, with created[i] true for the ones this call
	// added.
	UpsertContacts(ctx context.Context, audienceID string, contacts []*Contact) (stored []*Contact, created []bool, err error)
	// DeleteContact removes a contact of the audience, or returns CodeNotFound.
	DeleteContact(ctx context.Context, audienceID, contactID string) error
}

// AudienceQuery selects audiences for ListAudiences.
type AudienceQuery struct {
	Limit int // 1..100; the core always sets it
	After *Cursor
}

// AudiencePage is one page of ListAudiences.
type AudiencePage struct {
	Audiences []*Audience
	HasMore   bool
}

// Contact is one recipient of an audience: an email address, a phone number, or both.
type Contact struct {
	ID         string
	AudienceID string
	// Email is lower-cased ("" when the contact has none); Phone is E.164 ("" when none).
	Email     string
	Phone     string
	FirstName string
	LastName  string
	// Data are the contact's own values for templates ({{data.plan}}); nil when none.
	Data map[string]any
	// UnsubscribedAt is when the contact unsubscribed from the audience; nil while
	// subscribed. Broadcasts skip unsubscribed contacts.
	UnsubscribedAt *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Subscribed reports whether broadcasts to the audience reach the contact.
func (c *Contact) Subscribed() bool { return c.UnsubscribedAt == nil }

// ContactQuery selects contacts for ListContacts. Zero fields do not filter.
type ContactQuery struct {
	// Subscribed, when set, keeps only the subscribed (true) or the unsubscribed (false).
	Subscribed *bool
	Limit      int // 1..100; the core always sets it
	After      *Cursor
}

// ContactPage is one page of ListContacts.
type ContactPage struct {
	Contacts []*Contact
	HasMore  bool
}

// AudienceRequest is the body of POST /api/v1/audiences.
type AudienceRequest struct {
	Name        string `json:"name" doc:"A human-readable name" example:"Monthly newsletter" maxLength:"200"`
	Description string `json:"description,omitempty" doc:"What the list is for" example:"Product news, once a month" maxLength:"1000"`
	// TenantID creates the audience in a tenant's namespace (platform mode): see
	// Client.ForTenant.
	TenantID string `json:"tenant_id,omitempty" doc:"Platform mode: create the audience for this tenant (platform-root keys); a tenant-bound key may only name its own" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S" maxLength:"64"`
}

// AudienceUpdate is the body of PATCH /api/v1/audiences/{id}: a nil field is left as it is.
type AudienceUpdate struct {
	Name        *string `json:"name,omitempty" doc:"New name" maxLength:"200"`
	Description *string `json:"description,omitempty" doc:"New description; an empty string clears it" maxLength:"1000"`
}

// ContactInput is one contact of POST /api/v1/audiences/{id}/contacts.
type ContactInput struct {
	Email     string         `json:"email,omitempty" doc:"Email address (lower-cased when stored); email or phone is required" example:"ada@example.com" maxLength:"320"`
	Phone     string         `json:"phone,omitempty" doc:"E.164 phone number; email or phone is required" example:"+15559876543" maxLength:"16"`
	FirstName string         `json:"first_name,omitempty" doc:"Available to templates as {{first_name}}" example:"Ada" maxLength:"200"`
	LastName  string         `json:"last_name,omitempty" doc:"Available to templates as {{last_name}}" example:"Lovelace" maxLength:"200"`
	Data      map[string]any `json:"data,omitempty" doc:"Any JSON object (at most 8 KiB serialised), available to templates as {{data.key}}" example:"{\"plan\":\"pro\"}"`
}

// ContactResult is the outcome of one ContactInput, in the order given.
type ContactResult struct {
	// Contact is the stored contact after the call; nil when Err is set.
	Contact *Contact
	// Created is true when this call added the contact, false when it merged the row into
	// a contact already there (or into an earlier row of the same call).
	Created bool
	// Err is why the row was refused (a VALIDATION_ERROR), or nil.
	Err error
}

// Audience limits.
const (
	MaxAudienceName        = 200
	MaxAudienceDescription = 1000
	MaxContactName         = 200
	// MaxContactData bounds a contact's data, serialised as JSON.
	MaxContactData = 8 << 10
	// MaxContactBatch is the most contacts one UpsertContacts call takes.
	MaxContactBatch = 10000
)

// CreateAudience stores a new, empty audience.
func (c *Client) CreateAudience(ctx context.Context, p *Principal, req *AudienceRequest) (*Audience, error) {
	if err := p.require(PermissionAudiencesWrite); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, req.TenantID)
	if err != nil {
		return nil, err
	}
	now := c.now()
	a := &Audience{ID: NewID(PrefixAudience, now), OrgID: p.OrgID, TenantID: p.TenantID,
		Name: req.Name, Description: req.Description, CreatedAt: now, UpdatedAt: now}
	if err := validateAudience(a); err != nil {
		return nil, err
	}
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.InsertAudience(ctx, a) }); err != nil {
		return nil, err
	}
	return a, nil
}

func validateAudience(a *Audience) error {
	var v Validation
	switch {
	case strings.TrimSpace(a.Name) == "":
		v.Add(FieldRequired, "Required", "name")
	case utf8.RuneCountInString(a.Name) > MaxAudienceName:
		v.Add(FieldTooBig, "at most 200 characters", "name")
	case !utf8.ValidString(a.Name) || hasControl(a.Name):
		v.Add(FieldInvalidString, "must be valid UTF-8 without control characters", "name")
	}
	if utf8.RuneCountInString(a.Description) > MaxAudienceDescription {
		v.Add(FieldTooBig, "at most 1000 characters", "description")
	} else if !utf8.ValidString(a.Description) {
		v.Add(FieldInvalidString, "must be valid UTF-8", "description")
	}
	return v.Err()
}

// audienceReadPermissions: audiences:read, or audiences:write (a key that manages a list may
// look at it).
var audienceReadPermissions = []Permission{PermissionAudiencesRead, PermissionAudiencesWrite}

// GetAudience returns an audience with its contact counts.
func (c *Client) GetAudience(ctx context.Context, p *Principal, id string) (*Audience, error) {
	if err := p.require(audienceReadPermissions...); err != nil {
		return nil, err
	}
	return c.getAudience(ctx, p.Scope(), id)
}

func (c *Client) getAudience(ctx context.Context, scope Scope, id string) (*Audience, error) {
	if !plausibleID(id) || !strings.HasPrefix(id, PrefixAudience) {
		return nil, NotFound("audience")
	}
	a, err := c.store.GetAudience(ctx, scope, id)
	if err != nil {
		return nil, AsError(err)
	}
	return a, nil
}

// AudienceList is one page of audiences.
type AudienceList struct {
	Audiences  []*Audience
	HasMore    bool
	NextCursor string // "" when there is no next page
}

// ListAudiences returns a page of audiences, newest first. lp.TenantID lists a tenant's
// (platform mode); Status and Tag are ignored.
func (c *Client) ListAudiences(ctx context.Context, p *Principal, lp ListParams) (*AudienceList, error) {
	if err := p.require(audienceReadPermissions...); err != nil {
		return nil, err
	}
	p, err := c.ForTenant(ctx, p, lp.TenantID)
	if err != nil {
		return nil, err
	}
	var v Validation
	q := AudienceQuery{Limit: lp.Limit}
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	q.After = checkPage(&v, q.Limit, lp.Cursor)
	if err := v.Err(); err != nil {
		return nil, err
	}
	page, err := c.store.ListAudiences(ctx, p.Scope(), q)
	if err != nil {
		return nil, AsError(err)
	}
	out := &AudienceList{Audiences: page.Audiences, HasMore: page.HasMore}
	if page.HasMore && len(page.Audiences) > 0 {
		last := page.Audiences[len(page.Audiences)-1]
		out.NextCursor = EncodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return out, nil
}

// UpdateAudience changes the fields u sets.
func (c *Client) UpdateAudience(ctx context.Context, p *Principal, id string, u *AudienceUpdate) (*Audience, error) {
	if err := p.require(PermissionAudiencesWrite); err != nil {
		return nil, err
	}
	a, err := c.getAudience(ctx, p.Scope(), id)
	if err != nil {
		return nil, err
	}
	if u.Name != nil {
		a.Name = *u.Name
	}
	if u.Description != nil {
		a.Description = *u.Description
	}
	if err := validateAudience(a); err != nil {
		return nil, err
	}
	a.UpdatedAt = c.now()
	if err := c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.UpdateAudience(ctx, a) }); err != nil {
		return nil, err
	}
	return a, nil
}

// DeleteAudience removes an audience and its contacts. Messages already sent to it are
// unaffected.
func (c *Client) DeleteAudience(ctx context.Context, p *Principal, id string) error {
	if err := p.require(PermissionAudiencesWrite); err != nil {
		return err
	}
	if _, err := c.getAudience(ctx, p.Scope(), id); err != nil {
		return err
	}
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.DeleteAudience(ctx, p.Scope(), id) })
}

// UpsertContacts adds contacts to an audience, or updates the ones already there (matched by
// email, or by phone for a contact without one). Each row is checked on its own; rows of the
// call with the same key are merged into one contact (later rows' fields win). The valid rows
// are written together in one transaction, in statements of at most 1 MiB each. A contact
// that unsubscribed stays unsubscribed. Zero rows, or more than MaxContactBatch, is a
// VALIDATION_ERROR for the whole call.
func (c *Client) UpsertContacts(ctx context.Context, p *Principal, audienceID string, in []ContactInput) ([]ContactResult, error) {
	if err := p.require(PermissionAudiencesWrite); err != nil {
		return nil, err
	}
	switch {
	case len(in) == 0:
		return nil, fieldError(FieldTooSmall, "at least one contact is required", "contacts")
	case len(in) > MaxContactBatch:
		return nil, fieldError(FieldTooBig, fmt.Sprintf("at most %d contacts per call, this one has %d: split the list", MaxContactBatch, len(in)), "contacts")
	}
	a, err := c.getAudience(ctx, p.Scope(), audienceID)
	if err != nil {
		return nil, err
	}
	now := c.now()
	out := make([]ContactResult, len(in))
	var batch []*Contact
	rowsOf := map[*Contact][]int{} // the rows merged into each contact of batch
	byKey := map[string]*Contact{}
	for i, row := range in {
		ct, err := newContact(a.ID, row, now)
		if err != nil {
			out[i].Err = err
			continue
		}
		key := contactKey(ct)
		if first := byKey[key]; first != nil {
			mergeContact(first, ct)
			rowsOf[first] = append(rowsOf[first], i)
			continue
		}
		byKey[key] = ct
		batch = append(batch, ct)
		rowsOf[ct] = []int{i}
	}
	if len(batch) == 0 {
		return out, nil
	}
	var stored []*Contact
	var created []bool
	err = c.inTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		stored, created, err = tx.UpsertContacts(ctx, a.ID, batch)
		return err
	})
	if err != nil {
		return nil, err
	}
	for j, ct := range batch {
		for k, i := range rowsOf[ct] {
			out[i].Contact = stored[j]
			out[i].Created = created[j] && k == 0
		}
	}
	return out, nil
}

// contactKey is what makes two contacts of an audience the same one.
func contactKey(ct *Contact) string {
	if ct.Email != "" {
		return "e:" + ct.Email
	}
	return "p:" + ct.Phone
}

// mergeContact folds a later row of the same contact into the first: its set fields win.
func mergeContact(dst, src *Contact) {
	if src.Phone != "" {
		dst.Phone = src.Phone
	}
	if src.FirstName != "" {
		dst.FirstName = src.FirstName
	}
	if src.LastName != "" {
		dst.LastName = src.LastName
	}
	if src.Data != nil {
		dst.Data = src.Data
	}
}

// newContact validates one row of UpsertContacts. Its errors name fields of the row itself.
func newContact(audienceID string, row ContactInput, now time.Time) (*Contact, error) {
	var v Validation
	ct := &Contact{ID: NewID(PrefixContact, now), AudienceID: audienceID, FirstName: row.FirstName, LastName: row.LastName,
		Data: row.Data, CreatedAt: now, UpdatedAt: now}
	if row.Email == "" && row.Phone == "" {
		v.Add(FieldRequired, "email or phone is required", "email")
	}
	if row.Email != "" {
		a, msg := parseMailbox(row.Email)
		switch {
		case msg != "":
			v.Add(FieldInvalidString, msg, "email")
		case a.Name != "":
			v.Add(FieldInvalidString, "give the bare address, without a display name", "email")
		default:
			ct.Email = strings.ToLower(a.Address)
		}
	}
	if row.Phone != "" {
		if n, ok := ParseE164(row.Phone); ok {
			ct.Phone = n
		} else {
			v.Add(FieldInvalidString, "must be an E.164 number such as +15559876543", "phone")
		}
	}
	for _, f := range []struct{ name, val string }{{"first_name", row.FirstName}, {"last_name", row.LastName}} {
		switch {
		case utf8.RuneCountInString(f.val) > MaxContactName:
			v.Add(FieldTooBig, "at most 200 characters", f.name)
		case !utf8.ValidString(f.val) || hasControl(f.val):
			v.Add(FieldInvalidString, "must be valid UTF-8 without control characters", f.name)
		}
	}
	if row.Data != nil {
		raw, err := json.Marshal(row.Data)
		switch {
		case err != nil:
			v.Add(FieldInvalid, "must be a JSON object", "data")
		case len(raw) > MaxContactData:
			v.Add(FieldTooBig, "at most 8 KiB once serialised", "data")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return ct, nil
}

// ContactListParams are the query parameters of GET /api/v1/audiences/{id}/contacts.
type ContactListParams struct {
	Limit  int    // 1..100, default 20
	Cursor string // the next_cursor of a previous page
	// Subscribed, when set, keeps only the subscribed (true) or unsubscribed (false).
	Subscribed *bool
}

// ContactList is one page of contacts.
type ContactList struct {
	Contacts   []*Contact
	HasMore    bool
	NextCursor string // "" when there is no next page
}

// ListContacts returns a page of an audience's contacts, newest first.
func (c *Client) ListContacts(ctx context.Context, p *Principal, audienceID string, lp ContactListParams) (*ContactList, error) {
	if err := p.require(audienceReadPermissions...); err != nil {
		return nil, err
	}
	a, err := c.getAudience(ctx, p.Scope(), audienceID)
	if err != nil {
		return nil, err
	}
	var v Validation
	q := ContactQuery{Limit: lp.Limit, Subscribed: lp.Subscribed}
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	q.After = checkPage(&v, q.Limit, lp.Cursor)
	if err := v.Err(); err != nil {
		return nil, err
	}
	page, err := c.store.ListContacts(ctx, a.ID, q)
	if err != nil {
		return nil, AsError(err)
	}
	out := &ContactList{Contacts: page.Contacts, HasMore: page.HasMore}
	if page.HasMore && len(page.Contacts) > 0 {
		last := page.Contacts[len(page.Contacts)-1]
		out.NextCursor = EncodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return out, nil
}

// DeleteContact removes a contact from an audience.
func (c *Client) DeleteContact(ctx context.Context, p *Principal, audienceID, contactID string) error {
	if err := p.require(PermissionAudiencesWrite); err != nil {
		return err
	}
	a, err := c.getAudience(ctx, p.Scope(), audienceID)
	if err != nil {
		return err
	}
	if !plausibleID(contactID) {
		return NotFound("contact")
	}
	return c.inTx(ctx, func(ctx context.Context, tx Tx) error { return tx.DeleteContact(ctx, a.ID, contactID) })
}
