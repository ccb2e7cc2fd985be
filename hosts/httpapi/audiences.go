package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/sendoka/sendoka/sendoka"
)

const tagAudiences = "Audiences"

// registerAudiences adds the audience operations: the audiences themselves, and their
// contacts.
func registerAudiences(r *registrar, h *handlers) {
	huma.Register(r.api, r.op(http.MethodPost, "/api/v1/audiences", "create-audience", tagAudiences, "Create an audience",
		"Creates an empty list of contacts to broadcast to (newsletters, announcements). Needs audiences:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.createAudience)
	huma.Register(r.api, r.op(http.MethodGet, "/api/v1/audiences", "list-audiences", tagAudiences, "List audiences",
		"Audiences newest first, a page at a time: pass next_cursor as cursor for the next page. Needs audiences:read.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.listAudiences)
	huma.Register(r.api, r.op(http.MethodGet, "/api/v1/audiences/{id}", "get-audience", tagAudiences, "Get an audience",
		"One audience with its contact counts. Needs audiences:read.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.getAudience)
	huma.Register(r.api, r.op(http.MethodPatch, "/api/v1/audiences/{id}", "update-audience", tagAudiences, "Update an audience",
		"Changes the name or description. Needs audiences:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.updateAudience)
	huma.Register(r.api, r.op(http.MethodDelete, "/api/v1/audiences/{id}", "delete-audience", tagAudiences, "Delete an audience",
		"Removes an audience and its contacts. Messages already sent to it are unaffected. Needs audiences:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.deleteAudience)
	huma.Register(r.api, r.op(http.MethodPost, "/api/v1/audiences/{id}/contacts", "add-contacts", tagAudiences, "Add or update contacts",
		"Adds up to 10,000 contacts per call, or updates the ones already in the audience (matched by email, or by "+
			"phone for a contact without an email): the fields a row gives replace the stored ones, the others stay, "+
			"and an unsubscribed contact stays unsubscribed. Each row needs email or phone (E.164). Rows of one call "+
			"with the same email (or phone) are merged into one contact. Each row is answered in data, in order: "+
			"created, updated or failed. Needs audiences:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusRequestEntityTooLarge,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.addContacts)
	huma.Register(r.api, r.op(http.MethodGet, "/api/v1/audiences/{id}/contacts", "list-contacts", tagAudiences, "List contacts",
		"An audience's contacts newest first, a page at a time; subscribed=true or false filters. Needs audiences:read.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.listContacts)
	huma.Register(r.api, r.op(http.MethodDelete, "/api/v1/audiences/{id}/contacts/{contact_id}", "delete-contact", tagAudiences, "Delete a contact",
		"Removes a contact from the audience. Needs audiences:write.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.deleteContact)
}

// Audience is an audience as the API shows it.
type Audience struct {
	ID          string  `json:"id" example:"aud_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Name        string  `json:"name" example:"Monthly newsletter"`
	Description *string `json:"description" doc:"What the list is for, or null"`
	TenantID    *string `json:"tenant_id" doc:"The tenant it belongs to; null for an org-level audience"`
	Contacts    *int    `json:"contacts" doc:"How many contacts it has; null in lists"`
	// Unsubscribed counts the contacts that unsubscribed.
	Unsubscribed *int   `json:"unsubscribed" doc:"How many of them unsubscribed; null in lists"`
	CreatedAt    string `json:"created_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
	UpdatedAt    string `json:"updated_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
}

func audienceObject(a *sendoka.Audience, counts bool) *Audience {
	out := &Audience{ID: a.ID, Name: a.Name, Description: nullable(a.Description), TenantID: nullable(a.TenantID),
		CreatedAt: formatTime(a.CreatedAt), UpdatedAt: formatTime(a.UpdatedAt)}
	if counts {
		out.Contacts, out.Unsubscribed = &a.Contacts, &a.Unsubscribed
	}
	return out
}

// AudienceList is one page of audiences, newest first.
type AudienceList struct {
	Data       []*Audience `json:"data" nullable:"false"`
	HasMore    bool        `json:"has_more" doc:"Whether another page follows"`
	NextCursor *string     `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// AudienceDeleted answers a delete.
type AudienceDeleted struct {
	ID      string `json:"id" example:"aud_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Deleted bool   `json:"deleted" example:"true"`
}

// Contact is a contact of an audience as the API shows it.
type Contact struct {
	ID             string         `json:"id" example:"con_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	AudienceID     string         `json:"audience_id" example:"aud_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Email          *string        `json:"email" doc:"Lower-cased email address, or null" example:"ada@example.com"`
	Phone          *string        `json:"phone" doc:"E.164 number, or null" example:"+15559876543"`
	FirstName      *string        `json:"first_name" example:"Ada"`
	LastName       *string        `json:"last_name" example:"Lovelace"`
	Data           map[string]any `json:"data" doc:"The contact's own values for templates ({{data.key}}), or null"`
	Subscribed     bool           `json:"subscribed" doc:"Whether broadcasts to the audience reach the contact"`
	UnsubscribedAt *string        `json:"unsubscribed_at" format:"date-time" doc:"When the contact unsubscribed; null while subscribed"`
	CreatedAt      string         `json:"created_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
	UpdatedAt      string         `json:"updated_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
}

func contactObject(c *sendoka.Contact) *Contact {
	return &Contact{ID: c.ID, AudienceID: c.AudienceID, Email: nullable(c.Email), Phone: nullable(c.Phone),
		FirstName: nullable(c.FirstName), LastName: nullable(c.LastName), Data: c.Data, Subscribed: c.Subscribed(),
		UnsubscribedAt: formatTimePtr(c.UnsubscribedAt), CreatedAt: formatTime(c.CreatedAt), UpdatedAt: formatTime(c.UpdatedAt)}
}

// ContactList is one page of contacts, newest first.
type ContactList struct {
	Data       []*Contact `json:"data" nullable:"false"`
	HasMore    bool       `json:"has_more" doc:"Whether another page follows"`
	NextCursor *string    `json:"next_cursor" doc:"Pass as cursor for the next page; null on the last page"`
}

// ContactsAdded answers an add: one row per contact given, in order.
type ContactsAdded struct {
	Data    []ContactAddRow `json:"data" nullable:"false"`
	Total   int             `json:"total" doc:"Rows in the call"`
	Created int             `json:"created" doc:"Rows that added a contact"`
	Updated int             `json:"updated" doc:"Rows merged into a contact already there (or into an earlier row)"`
	Failed  int             `json:"failed" doc:"Rows refused"`
}

// ContactAddRow is the outcome of one row of an add.
type ContactAddRow struct {
	Index   int            `json:"index" doc:"Position of the row in the request"`
	Status  string         `json:"status" enum:"created,updated,failed"`
	Contact *Contact       `json:"contact" doc:"The contact as stored after the call, or null when the row failed"`
	Error   *BatchRowError `json:"error" doc:"Why the row was refused, or null"`
}

// ContactDeleted answers a delete.
type ContactDeleted struct {
	ID      string `json:"id" example:"con_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Deleted bool   `json:"deleted" example:"true"`
}

type createAudienceInput struct {
	jsonBody[sendoka.AudienceRequest]
}

type audienceRefInput struct {
	ID       string `path:"id" maxLength:"64" doc:"Audience id (aud_…)" example:"aud_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the audience of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level audiences" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

type updateAudienceInput struct {
	ID       string `path:"id" maxLength:"64" doc:"Audience id (aud_…)" example:"aud_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the audience of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level audiences" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	jsonBody[sendoka.AudienceUpdate]
}

type listAudiencesInput struct {
	Limit    int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size, 1-100"`
	Cursor   string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: list this tenant's audiences (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key lists the org-level audiences" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

type addContactsInput struct {
	ID       string `path:"id" maxLength:"64" doc:"Audience id (aud_…)" example:"aud_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the audience of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level audiences" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	jsonBody[[]sendoka.ContactInput]
}

type listContactsInput struct {
	ID         string `path:"id" maxLength:"64" doc:"Audience id (aud_…)" example:"aud_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID   string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the audience of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level audiences" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Limit      int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size, 1-100"`
	Cursor     string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page"`
	Subscribed string `query:"subscribed" enum:"true,false" doc:"Only the subscribed (true) or the unsubscribed (false) contacts"`
}

type contactRefInput struct {
	ID        string `path:"id" maxLength:"64" doc:"Audience id (aud_…)" example:"aud_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID  string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the audience of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level audiences" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	ContactID string `path:"contact_id" maxLength:"64" doc:"Contact id (con_…)" example:"con_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

type audienceOutput struct{ Body *Audience }
type audienceListOutput struct{ Body *AudienceList }
type audienceDeletedOutput struct{ Body *AudienceDeleted }
type contactsAddedOutput struct{ Body *ContactsAdded }
type contactListOutput struct{ Body *ContactList }
type contactDeletedOutput struct{ Body *ContactDeleted }

// audiencePrincipal is the caller acting in the namespace of the audience in.ID names.
func (h *handlers) audiencePrincipal(ctx context.Context, in *audienceRefInput) (*sendoka.Principal, error) {
	if hasNUL(in.ID) {
		return nil, sendoka.NotFound("audience")
	}
	return h.c.ForTenant(ctx, PrincipalFrom(ctx), in.TenantID)
}

func (h *handlers) createAudience(ctx context.Context, in *createAudienceInput) (*audienceOutput, error) {
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	a, err := h.c.CreateAudience(ctx, PrincipalFrom(ctx), &in.Body)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &audienceOutput{Body: audienceObject(a, true)}, nil
}

func (h *handlers) listAudiences(ctx context.Context, in *listAudiencesInput) (*audienceListOutput, error) {
	if in.Cursor != "" {
		if cur, err := sendoka.DecodeCursor(in.Cursor); err == nil && hasNUL(cur.ID) {
			return nil, fail(ctx, fieldErr(sendoka.FieldInvalid, "malformed cursor", "cursor"))
		}
	}
	page, err := h.c.ListAudiences(ctx, PrincipalFrom(ctx), sendoka.ListParams{Limit: in.Limit, Cursor: in.Cursor, TenantID: in.TenantID})
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &AudienceList{Data: make([]*Audience, len(page.Audiences)), HasMore: page.HasMore, NextCursor: nullable(page.NextCursor)}
	for i, a := range page.Audiences {
		out.Data[i] = audienceObject(a, false)
	}
	return &audienceListOutput{Body: out}, nil
}

func (h *handlers) getAudience(ctx context.Context, in *audienceRefInput) (*audienceOutput, error) {
	p, err := h.audiencePrincipal(ctx, in)
	if err != nil {
		return nil, fail(ctx, err)
	}
	a, err := h.c.GetAudience(ctx, p, in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &audienceOutput{Body: audienceObject(a, true)}, nil
}

func (h *handlers) updateAudience(ctx context.Context, in *updateAudienceInput) (*audienceOutput, error) {
	p, err := h.audiencePrincipal(ctx, &audienceRefInput{ID: in.ID, TenantID: in.TenantID})
	if err != nil {
		return nil, fail(ctx, err)
	}
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	if _, err := h.c.UpdateAudience(ctx, p, in.ID, &in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	a, err := h.c.GetAudience(ctx, p, in.ID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &audienceOutput{Body: audienceObject(a, true)}, nil
}

func (h *handlers) deleteAudience(ctx context.Context, in *audienceRefInput) (*audienceDeletedOutput, error) {
	p, err := h.audiencePrincipal(ctx, in)
	if err != nil {
		return nil, fail(ctx, err)
	}
	if err := h.c.DeleteAudience(ctx, p, in.ID); err != nil {
		return nil, fail(ctx, err)
	}
	return &audienceDeletedOutput{Body: &AudienceDeleted{ID: in.ID, Deleted: true}}, nil
}

func (h *handlers) addContacts(ctx context.Context, in *addContactsInput) (*contactsAddedOutput, error) {
	p, err := h.audiencePrincipal(ctx, &audienceRefInput{ID: in.ID, TenantID: in.TenantID})
	if err != nil {
		return nil, fail(ctx, err)
	}
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	res, err := h.c.UpsertContacts(ctx, p, in.ID, in.Body)
	if err != nil {
		if e := sendoka.AsError(err); e.Code == sendoka.CodeValidation {
			for i, f := range e.Fields {
				if len(f.Path) == 1 && f.Path[0] == "contacts" {
					e.Fields[i].Path = []any{} // the body itself is the list
				}
			}
		}
		return nil, fail(ctx, err)
	}
	out := &ContactsAdded{Data: make([]ContactAddRow, len(res)), Total: len(res)}
	for i, r := range res {
		row := ContactAddRow{Index: i}
		switch {
		case r.Err != nil:
			row.Status = "failed"
			e := sendoka.AsError(r.Err)
			fields := make([]FieldError, 0, len(e.Fields))
			for _, f := range e.Fields {
				fields = append(fields, FieldError{Path: append([]any{i}, f.Path...), Code: f.Code, Message: f.Message})
			}
			row.Error = &BatchRowError{Code: string(e.Code), Message: e.Message, Errors: fields}
			out.Failed++
		case r.Created:
			row.Status = "created"
			out.Created++
		default:
			row.Status = "updated"
			out.Updated++
		}
		if r.Contact != nil {
			row.Contact = contactObject(r.Contact)
		}
		out.Data[i] = row
	}
	return &contactsAddedOutput{Body: out}, nil
}

func (h *handlers) listContacts(ctx context.Context, in *listContactsInput) (*contactListOutput, error) {
	p, err := h.audiencePrincipal(ctx, &audienceRefInput{ID: in.ID, TenantID: in.TenantID})
	if err != nil {
		return nil, fail(ctx, err)
	}
	if in.Cursor != "" {
		if cur, err := sendoka.DecodeCursor(in.Cursor); err == nil && hasNUL(cur.ID) {
			return nil, fail(ctx, fieldErr(sendoka.FieldInvalid, "malformed cursor", "cursor"))
		}
	}
	lp := sendoka.ContactListParams{Limit: in.Limit, Cursor: in.Cursor}
	if in.Subscribed != "" {
		s := in.Subscribed == "true"
		lp.Subscribed = &s
	}
	page, err := h.c.ListContacts(ctx, p, in.ID, lp)
	if err != nil {
		return nil, fail(ctx, err)
	}
	out := &ContactList{Data: make([]*Contact, len(page.Contacts)), HasMore: page.HasMore, NextCursor: nullable(page.NextCursor)}
	for i, c := range page.Contacts {
		out.Data[i] = contactObject(c)
	}
	return &contactListOutput{Body: out}, nil
}

func (h *handlers) deleteContact(ctx context.Context, in *contactRefInput) (*contactDeletedOutput, error) {
	p, err := h.audiencePrincipal(ctx, &audienceRefInput{ID: in.ID, TenantID: in.TenantID})
	if err != nil {
		return nil, fail(ctx, err)
	}
	if hasNUL(in.ContactID) {
		return nil, fail(ctx, sendoka.NotFound("contact"))
	}
	if err := h.c.DeleteContact(ctx, p, in.ID, in.ContactID); err != nil {
		return nil, fail(ctx, err)
	}
	return &contactDeletedOutput{Body: &ContactDeleted{ID: in.ContactID, Deleted: true}}, nil
}

// registerAudienceSends adds the send to an audience and its status.
func registerAudienceSends(r *registrar, h *handlers) {
	huma.Register(r.api, r.op(http.MethodPost, "/api/v1/audiences/{id}/send", "send-to-audience", tagAudiences, "Send to an audience",
		"Sends a template to every subscribed contact of the audience that has an address on the channel (email or "+
			"phone) and is not suppressed; each gets a message of its own (stream broadcast), rendered with the "+
			"contact's first_name, last_name, email, phone and data under the call's variables. The call counts the "+
			"recipients, records the send and returns: the messages are created in the background (poll "+
			"GET /api/v1/audiences/{id}/sends/{send_id}). More than 10,000 recipients is 413 AUDIENCE_TOO_LARGE: split "+
			"the list. Broadcast email carries one-click unsubscribe headers (RFC 8058), so the server needs its public "+
			"URL. Needs emails:send (or sms:send).",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusRequestEntityTooLarge,
		http.StatusUnprocessableEntity, http.StatusTooManyRequests), h.sendToAudience)
	huma.Register(r.api, r.op(http.MethodGet, "/api/v1/audiences/{id}/status", "get-audience-status", tagAudiences, "Latest send status",
		"The latest send to the audience: its counts, the fan-out's progress, its messages by status, and when it "+
			"finished creating them. An audience never sent to is 404 NOT_FOUND.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.audienceStatus)
	huma.Register(r.api, r.op(http.MethodGet, "/api/v1/audiences/{id}/sends/{send_id}", "get-audience-send", tagAudiences, "Get an audience send",
		"One send to the audience, as GET /api/v1/audiences/{id}/status shows the latest.",
		http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests), h.audienceSend)
}

// AudienceSendAccepted answers a send to an audience.
type AudienceSendAccepted struct {
	AudienceID          string `json:"audience_id" example:"aud_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	SendID              string `json:"send_id" example:"asd_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Queued              int    `json:"queued" doc:"Recipients that get a message" example:"23417"`
	SkippedSuppressed   int    `json:"skipped_suppressed" doc:"Contacts left out: their address is suppressed" example:"112"`
	SkippedUnsubscribed int    `json:"skipped_unsubscribed" doc:"Contacts left out: they unsubscribed" example:"9"`
	Status              string `json:"status" enum:"queued" example:"queued"`
}

// AudienceSendStatus is a send to an audience and how far it is.
type AudienceSendStatus struct {
	AudienceID          string  `json:"audience_id" example:"aud_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	SendID              string  `json:"send_id" example:"asd_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	Channel             string  `json:"channel" enum:"email,sms"`
	Status              string  `json:"status" enum:"queued,sending,finished" doc:"queued: no message made yet; sending: the fan-out runs; finished: every recipient has its message (or was refused)"`
	Queued              int     `json:"queued" doc:"Recipients counted when the send was made"`
	SkippedSuppressed   int     `json:"skipped_suppressed"`
	SkippedUnsubscribed int     `json:"skipped_unsubscribed"`
	Processed           int     `json:"processed" doc:"Recipients the fan-out has handled"`
	Refused             int     `json:"refused" doc:"Recipients that got no message: deleted, unsubscribed or suppressed since, or over a quota or warmup cap"`
	Progress            float64 `json:"progress" doc:"processed / queued, from 0 to 1" example:"0.5"`
	// Messages counts the send's messages by status.
	Messages   map[string]int `json:"messages" doc:"The send's messages by status (queued, scheduled, sent, delivered, bounced, failed, canceled)" example:"{\"queued\":10,\"sent\":20,\"delivered\":70}"`
	CreatedAt  string         `json:"created_at" format:"date-time" example:"2026-04-22T10:14:22.113Z"`
	FinishedAt *string        `json:"finished_at" format:"date-time" doc:"When the fan-out finished; null until then"`
}

func audienceSendStatus(s *sendoka.AudienceSend) *AudienceSendStatus {
	out := &AudienceSendStatus{AudienceID: s.AudienceID, SendID: s.ID, Channel: string(s.Channel), Queued: s.Recipients,
		SkippedSuppressed: s.SkippedSuppressed, SkippedUnsubscribed: s.SkippedUnsubscribed, Processed: s.Processed,
		Refused: s.Refused, Progress: 1, Messages: map[string]int{}, CreatedAt: formatTime(s.CreatedAt), FinishedAt: formatTimePtr(s.FinishedAt)}
	for _, st := range sendoka.Statuses {
		out.Messages[string(st)] = s.Statuses[st]
	}
	if s.Recipients > 0 {
		out.Progress = float64(min(s.Processed, s.Recipients)) / float64(s.Recipients)
	}
	switch {
	case s.FinishedAt != nil:
		out.Status = "finished"
	case s.Processed == 0:
		out.Status = "queued"
	default:
		out.Status = "sending"
	}
	return out
}

type sendToAudienceInput struct {
	ID       string `path:"id" maxLength:"64" doc:"Audience id (aud_…)" example:"aud_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the audience of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level audiences" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	jsonBody[sendoka.AudienceSendRequest]
}

type audienceSendRefInput struct {
	ID       string `path:"id" maxLength:"64" doc:"Audience id (aud_…)" example:"aud_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	TenantID string `query:"tenant_id" maxLength:"64" doc:"Platform mode: the audience of this tenant (platform-root keys; a tenant-bound key may only name its own). Without it a platform-root key reaches the org-level audiences" example:"ten_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
	SendID   string `path:"send_id" maxLength:"64" doc:"Send id (asd_…)" example:"asd_01HN8Z6Q4V3K2J1M0N9P8Q7R6S"`
}

type audienceSendAcceptedOutput struct{ Body *AudienceSendAccepted }
type audienceSendStatusOutput struct{ Body *AudienceSendStatus }

func (h *handlers) sendToAudience(ctx context.Context, in *sendToAudienceInput) (*audienceSendAcceptedOutput, error) {
	p, err := h.audiencePrincipal(ctx, &audienceRefInput{ID: in.ID, TenantID: in.TenantID})
	if err != nil {
		return nil, fail(ctx, err)
	}
	if err := rejectNUL(&in.Body); err != nil {
		return nil, fail(ctx, err)
	}
	s, err := h.c.SendToAudience(ctx, p, in.ID, &in.Body)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &audienceSendAcceptedOutput{Body: &AudienceSendAccepted{AudienceID: s.AudienceID, SendID: s.ID, Queued: s.Recipients,
		SkippedSuppressed: s.SkippedSuppressed, SkippedUnsubscribed: s.SkippedUnsubscribed, Status: "queued"}}, nil
}

func (h *handlers) audienceStatus(ctx context.Context, in *audienceRefInput) (*audienceSendStatusOutput, error) {
	return h.audienceSendOf(ctx, in, "")
}

func (h *handlers) audienceSend(ctx context.Context, in *audienceSendRefInput) (*audienceSendStatusOutput, error) {
	if hasNUL(in.SendID) {
		return nil, fail(ctx, sendoka.NotFound("audience send"))
	}
	return h.audienceSendOf(ctx, &audienceRefInput{ID: in.ID, TenantID: in.TenantID}, in.SendID)
}

func (h *handlers) audienceSendOf(ctx context.Context, in *audienceRefInput, sendID string) (*audienceSendStatusOutput, error) {
	p, err := h.audiencePrincipal(ctx, in)
	if err != nil {
		return nil, fail(ctx, err)
	}
	s, err := h.c.GetAudienceSend(ctx, p, in.ID, sendID)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return &audienceSendStatusOutput{Body: audienceSendStatus(s)}, nil
}
